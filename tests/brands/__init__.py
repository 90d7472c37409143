"""Emulators of every brand's phone: tests/phones.py's YealinkPhone plus one `<brand>_phone.py` each.

A brand's emulator module defines a `Phone` subclass and lists it in `EMULATORS` there;
they are collected here for tests/test_every_brand.py.
"""

import importlib
import pkgutil

from tests.phones import YealinkPhone

EMULATORS = {"yealink": YealinkPhone}

for module in pkgutil.iter_modules(__path__):
    if module.name.endswith("_phone"):
        EMULATORS |= importlib.import_module(f"{__name__}.{module.name}").EMULATORS
