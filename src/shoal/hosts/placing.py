"""The POSIX sh that puts a copy in place on a node, for copies that reach it without
SFTP: the ``openssh`` transport's (:mod:`shoal.hosts.openssh`, scp into a staging folder)
and the tree's (:mod:`shoal.tree.workers`, a tar stream extracted into one).

Both follow scp, as :func:`shoal.hosts.copying.copy_into` does over SFTP: a copy goes
into DEST when it is a directory, else it becomes DEST, whose folder must exist; with
``into`` (several sources, or a DEST ending in ``/``) DEST must be a directory. The copy
is first written into a private folder beside its target (``mktemp -d``), then moved
into place: directories merge into existing ones, files are renamed over their names,
a symlink at a file's name is replaced and one where a directory goes is refused, never
followed.

:data:`FUNCTIONS` defines the sh functions; a caller appends its own commands:

* ``locate DEST NAME INTO`` sets ``target`` (where the copy named NAME goes) and ``dir``
  (its folder);
* ``stage`` makes the staging folder in ``$dir`` and sets ``staging``;
* ``place STAGED TARGET`` moves a staged copy into place (``$top``: the target, for
  messages).

Each says why it failed in one line ready for the user (``not a directory``,
``permission denied`` from what ``mv`` printed): ``locate`` and ``stage`` in ``$fault``,
``place`` on its stdout. The text is one line (:func:`one_line`), so a command line can
carry it to any login shell, csh too.

Pure text; runs on Python 3.6 (gateways carry it): standard library only.
"""

from __future__ import annotations

__all__ = ["FUNCTIONS", "INSTALL", "PREPARE", "one_line"]


def one_line(script: str) -> str:
    """``script`` with its lines joined by spaces: each line must end its statement
    with ``;`` or with a word that goes on (``then``, ``do``, ``||``…), and no line may
    hold a comment.

    >>> one_line('''
    ...     if [ -d "$1" ]; then
    ...       echo dir;
    ...     fi
    ... ''')
    'if [ -d "$1" ]; then echo dir; fi'
    """
    return " ".join(line.strip() for line in script.splitlines() if line.strip())


#: The shared functions (see the module's docstring). ``why TEXT [1]``: the reason in the
#: last (with 1, the first) line of a tool's messages, after its last ": ", first letter
#: lowered; ``try COMMAND…``: run it, printing why when it fails.
FUNCTIONS = one_line("""
why() {
  printf '%s\\n' "$1" | awk -v first="$2" 'NF && !(first && seen) { line = $0; seen = 1 }
    END { sub(/.*: /, "", line); if (line == "") line = "failed";
    print tolower(substr(line, 1, 1)) substr(line, 2) }';
};
try() { out=$("$@" 2>&1) || { why "$out"; return 1; }; };
locate() {
  if [ -d "$1" ]; then dir=$1 target=${1%/}/$2; return 0; fi;
  if [ "$3" = 1 ]; then
    if [ -e "$1" ] || [ -h "$1" ]; then fault="not a directory"; else fault="no such directory"; fi;
    return 1;
  fi;
  target=$1;
  case $1 in */*) dir=${1%/*};; *) dir=.;; esac;
  dir=${dir:-/};
  [ -d "$dir" ] && return 0;
  if [ -e "$dir" ]; then fault="not a directory"; else fault="no such file or directory"; fi;
  return 1;
};
stage() {
  case $dir in -*) dir=./$dir;; esac;
  staging=$(mktemp -d "${dir%/}/.shoal-XXXXXXXX" 2>&1) && return 0;
  fault=$(why "$staging"); staging=; return 1;
};
say() { if [ "$2" = "$top" ]; then printf '%s\\n' "$1"; else printf '%s (%s)\\n' "$1" "$2"; fi; };
place() (
  if [ -d "$1" ]; then
    if [ -h "$2" ]; then say "is a symlink (not followed)" "$2"; exit 1; fi;
    if [ ! -e "$2" ]; then try mv -- "$1" "$2"; exit; fi;
    if [ ! -d "$2" ]; then say "not a directory" "$2"; exit 1; fi;
    for f in "$1"/* "$1"/.[!.]* "$1"/..?*; do
      if [ -e "$f" ] || [ -h "$f" ]; then place "$f" "$2/${f##*/}" || exit 1; fi;
    done;
  else
    if [ -d "$2" ] && [ ! -h "$2" ]; then say "is a directory" "$2"; exit 1; fi;
    if [ -h "$2" ] && [ -d "$2" ]; then try rm -f -- "$2" || exit 1; fi;
    try mv -f -- "$1" "$2";
  fi;
);
""")

#: The openssh transport's first step: $1 the destination, $2 the name of the copy in a
#: directory, $3 1 when $1 must be a directory. Prints the staging folder and the
#: target, or why not.
PREPARE = FUNCTIONS + " " + one_line("""
locate "$1" "$2" "$3" && stage || { printf '%s\\n' "$fault"; exit 1; };
printf '%s\\n%s\\n' "$staging" "$target"
""")

#: Its last: $1 the staged copy, $2 where it goes, $3 the staging folder, removed at
#: the end. Prints why it failed.
INSTALL = FUNCTIONS + " " + one_line("""
top=$2; place "$1" "$2"; rc=$?; rm -rf -- "$3"; exit $rc
""")
