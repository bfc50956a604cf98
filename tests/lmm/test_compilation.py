"""The compile notice: one line once this package's numba compiles pass the threshold,
nothing for other packages' functions."""

from __future__ import annotations

import time

import pytest
from numba import njit
from numba.core import event

from lmm.compilation import NOTICE, _CompileNotice


def _fresh_kernel(module: str):
    def add_one(x):
        return x + 1

    add_one.__module__ = module
    return njit(add_one)


def _compile_under(listener: _CompileNotice, module: str) -> None:
    with event.install_listener("numba:compile", listener):
        _fresh_kernel(module)(1)
    time.sleep(0.2)  # the timer thread


def test_a_slow_first_compile_prints_the_notice_once(capsys: pytest.CaptureFixture) -> None:
    listener = _CompileNotice(after=0.0)
    _compile_under(listener, "lmm.engine.compiled.fake")
    _compile_under(listener, "lmm.engine.compiled.fake")
    assert capsys.readouterr().err.count(NOTICE) == 1
    assert listener.said


def test_compiles_under_the_threshold_print_nothing(capsys: pytest.CaptureFixture) -> None:
    listener = _CompileNotice(after=60.0)
    _compile_under(listener, "lmm.engine.compiled.fake")
    assert NOTICE not in capsys.readouterr().err
    assert listener.spent > 0 and listener.depth == 0


def test_other_packages_compiles_are_not_ours(capsys: pytest.CaptureFixture) -> None:
    listener = _CompileNotice(after=0.0)
    _compile_under(listener, "someone_else.kernels")
    assert NOTICE not in capsys.readouterr().err
    assert listener.spent == 0
