#!/usr/bin/env bash
# Install what the browser test (tests/test_app.py) needs:
#   - Debian's `chromium` (apt-get; needs root),
#   - the project's `viz` extra (solara & co.) and Playwright for Python, in the
#     virtual environments the tests run in: ${SIM_VENV:-.venv} (python3) and,
#     where `PYENV_VERSION=3.12.1 python3.12` works, .venv312 (as .ci/run does).
# Playwright's own browser download (`playwright install`) is never used: the
# test drives /usr/bin/chromium. Exits 0 in every case and says why when it
# cannot install something; the test then skips with that reason.
set -u
cd "$(dirname "$0")/.."

say() { echo "install_browser: $*"; }

# ---- 1. chromium
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  say "chromium is installed"
elif ! command -v apt-get >/dev/null 2>&1; then
  say "no apt-get here: cannot install chromium (the browser test will skip)"
elif [ "$(id -u)" != "0" ]; then
  say "not root: cannot apt-get install chromium (the browser test will skip)"
else
  say "installing chromium with apt-get"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    say "apt-get install chromium failed (the browser test will skip)"
  fi
fi

# ---- 2. the viz extra and Playwright, in each test venv
pip_quiet() {  # pip without the noise of unreachable local indexes; keeps pip's exit status
  "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory"
  return "${PIPESTATUS[0]}"
}

install_into() {  # $1: venv directory, $2: interpreter that creates it when missing
  local venv=$1 interp=$2
  if [ ! -x "$venv/bin/python" ]; then
    if ! "$interp" -m venv "$venv"; then
      say "could not create $venv with $interp (the browser test will skip there)"
      return 0
    fi
    pip_quiet "$venv/bin/python" -m pip install -q --upgrade pip
  fi
  if ! pip_quiet "$venv/bin/python" -m pip install -q -e ".[viz]" playwright; then
    say "pip install -e '.[viz]' playwright failed in $venv (the browser test will skip there)"
    return 0
  fi
  if "$venv/bin/python" -c "import solara, altair, playwright" 2>/dev/null; then
    say "$venv: viz extra and Playwright installed"
  else
    say "$venv: solara/altair/playwright still missing (is the viz extra declared in pyproject.toml?)"
  fi
}

install_into "${SIM_VENV:-.venv}" python3
if PYENV_VERSION=3.12.1 python3.12 --version >/dev/null 2>&1; then
  (export PYENV_VERSION=3.12.1; install_into .venv312 python3.12)
else
  say "python3.12 is not available: only ${SIM_VENV:-.venv} set up"
fi
exit 0
