"""The PBX as the source of truth: Asterisk's configuration files as FreePBX writes them (voicemail
PINs read live, extensions synced from the pjsip files) and its Manager Interface (NOTIFY sent by
Asterisk). Plain Python: no Flask, no database, no brand."""
