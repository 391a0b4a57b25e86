#!/usr/bin/env bash
# A Java runtime for the Spark engine's tests (PySpark starts a JVM; ../shared/TESTING.md: Debian's
# OpenJDK 17 runs it). Installs openjdk-17-jre-headless when no `java` is found and we can (root or
# passwordless sudo); otherwise says so, and the Spark tests skip with that reason.
set -u
if command -v java >/dev/null 2>&1; then exit 0; fi
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: no Java runtime and apt-get is unavailable; Spark tests will be skipped" >&2
  exit 0
fi
if [ "$(id -u)" = "0" ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "note: no Java runtime and installing one needs root; Spark tests will be skipped" >&2
  exit 0
fi
echo "installing Debian's OpenJDK 17 runtime for the Spark engine (about a minute)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
  || echo "warning: could not install a Java runtime; Spark tests will be skipped" >&2
exit 0
