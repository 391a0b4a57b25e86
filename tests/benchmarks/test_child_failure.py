"""benchmarks/_common.child: a failed child's error says what failed, not the last frame of a JVM stack trace
(bench_spark's 3*10^5 canonical run reported only 'at java.base/java.lang.Thread.run(Thread.java:840)')."""

from __future__ import annotations

import importlib.util

from project_paths import ROOT


def _common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "benchmarks" / "_common.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_jvm_stack_trace_gives_its_error_line():
    stderr = ("Traceback (most recent call last):\n  File \"bench_spark.py\", line 1, in <module>\n"
              "py4j.protocol.Py4JJavaError: An error occurred while calling o88.collectToPython.\n"
              ": java.lang.OutOfMemoryError: Java heap space\n\tat org.apache.spark.Foo.bar(Foo.scala:1)\n"
              "\t... 12 more\n\tat java.base/java.lang.Thread.run(Thread.java:840)\n")
    assert _common().failure_line(stderr) == ": java.lang.OutOfMemoryError: Java heap space"


def test_a_python_failure_gives_its_last_line_and_nothing_gives_nothing():
    common = _common()
    assert common.failure_line("Traceback ...\n  File \"x.py\"\nValueError: no rows\n") == "ValueError: no rows"
    assert common.failure_line("killed by the deadline\n") == "killed by the deadline"
    assert common.failure_line("") == ""
