# The bash session kernel (docs/session-kernel.md). Each cell is sourced into this one shell, so its
# working directory, variables (declare included: a sourced file's are global), functions, aliases
# and background jobs persist. Interrupting: the executor sends SIGINT to the foreground of the
# session (this shell and what it waits for; bash's background jobs ignore it). The INT trap only
# raises a flag; the DEBUG trap, run before every command, then returns 2 while the flag is up and
# the shell is inside the cell (a sourced file or a function: extdebug turns that into `return`),
# so the cell unwinds, function by function, back to this loop, which reports it interrupted.
# It runs as the sandbox user beside the snippet and enforces nothing.
exec 99<&"${EXECUTOR_SESSION_FD:-3}"
exec 3<&-
unset EXECUTOR_SESSION_FD
shopt -s extdebug
set -T
__ae_stop=
__ae_top=${#BASH_SOURCE[@]}
trap '__ae_stop=1' INT
# The trap's status matters under extdebug: 0 runs the command, 2 returns from the subroutine.
# (A function, not a subshell: a subshell would inherit the trap and run it again, forever.)
__ae_unwind() { return 2; }
trap '[[ -z $__ae_stop || ${#BASH_SOURCE[@]} -le $__ae_top ]] || __ae_unwind' DEBUG

__ae_marker() {
  __ae_sync=$((__ae_sync + 1))
  printf '\037%s:%d\037' "$__ae_token" "$__ae_sync"
  [[ -n ${1-} ]] && printf '\037%s:%d\037' "$__ae_token" "$__ae_sync" >&2
  return 0
}

__ae_read() {
  local var=$1 n=$2
  printf -v "$var" ''
  (( n > 0 )) || return 0
  LC_ALL=C IFS= read -r -N "$n" -u 99 "$var"
}

printf 'ready\n' >&99
while :; do
  __ae_header=
  IFS= read -r -u 99 __ae_header
  __ae_rc=$?
  if (( __ae_rc > 128 )); then continue; fi
  (( __ae_rc == 0 )) || exit 0
  read -r __ae_word __ae_cell __ae_token __ae_clen __ae_slen <<<"$__ae_header"
  [[ $__ae_word == cell ]] || continue
  __ae_read __ae_code "$__ae_clen" || exit 0
  __ae_read __ae_stdin "$__ae_slen" || exit 0
  __ae_sync=0
  __ae_stop=
  # The channel (fd 99) is closed for the cell: its commands and jobs do not get it.
  source /dev/fd/62 62<<<"$__ae_code" < <(printf '%s' "$__ae_stdin") 99>&-
  __ae_rc=$?
  if [[ -n $__ae_stop ]]; then
    __ae_status=interrupted
    printf 'Interrupted: the cell was stopped (SIGINT)\n' >&2
  elif (( __ae_rc == 0 )); then __ae_status=ok; else __ae_status=error; fi
  __ae_stop=
  __ae_marker both
  printf 'done %s %s %s\n' "$__ae_cell" "$__ae_status" "$__ae_sync" >&99
done
