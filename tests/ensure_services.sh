#!/usr/bin/env bash
# Make sure what the test suite needs is on this machine: Chromium for the browser tests and a
# MariaDB/MySQL server for the second engine. As root it installs Debian packages and starts
# MariaDB; otherwise it names what is missing and exits non-zero. It never lets a part of the
# suite be skipped silently.
set -euo pipefail

MYSQL_URL="${UXWIZZ_TEST_MYSQL_URL:-mysql://root:@127.0.0.1:3306}"
missing=()
as_root() { [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_install() {
  as_root || return 1
  if [ $apt_updated = 0 ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- Chromium (Debian's; Playwright never downloads a browser here) ---
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (Debian package) for the browser tests"
  apt_install chromium fonts-dejavu-core || missing+=("/usr/bin/chromium (apt-get install chromium)")
fi

# --- MariaDB ---
mysql_answers() {
  .venv/bin/python - "$MYSQL_URL" <<'PY' >/dev/null 2>&1
import sys
from urllib.parse import urlparse
import pymysql
u = urlparse(sys.argv[1])
pymysql.connect(host=u.hostname, port=u.port or 3306, user=u.username or "root",
                password=u.password or "", connect_timeout=3).close()
PY
}
wait_for_mysql() {
  for _ in $(seq 1 60); do mysql_answers && return 0; sleep 0.5; done
  return 1
}

if ! mysql_answers; then
  if [ ! -x /usr/sbin/mariadbd ]; then
    echo "installing mariadb-server (Debian package) for the MySQL test run"
    apt_install mariadb-server || true
  fi
  if [ -x /usr/sbin/mariadbd ] && as_root; then
    echo "starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    if [ ! -d /var/lib/mysql/mysql ]; then
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null 2>&1 || true
    fi
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql || true
    if ! wait_for_mysql; then
      # No usable system server: a throw-away data dir just for this run.
      tmp=$(mktemp -d /tmp/uxwizz-mariadb.XXXXXX)
      chown mysql:mysql "$tmp" 2>/dev/null || true
      echo "starting a throw-away MariaDB in $tmp"
      mariadb-install-db --user=mysql --datadir="$tmp" --auth-root-authentication-method=normal >/dev/null
      start-stop-daemon --start --background --exec /usr/sbin/mariadbd -- --user=mysql \
        --datadir="$tmp" --socket="$tmp/mysqld.sock" --port=3306 --bind-address=127.0.0.1 --skip-grant-tables=0
    fi
  fi
  if ! wait_for_mysql; then
    missing+=("a MariaDB/MySQL server at $MYSQL_URL (root, empty password), e.g. apt-get install mariadb-server")
  else
    # root over TCP with an empty password, as the tests expect (Debian defaults to unix_socket auth).
    if command -v mariadb >/dev/null; then
      mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket" >/dev/null 2>&1 || true
    fi
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "The test suite needs, and could not set up:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
echo "test services ready: chromium, MariaDB at $MYSQL_URL"
