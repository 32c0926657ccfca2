# The init of one run (see src/sandbox/run-init.ts). It runs as root and is the only process of the
# run that is not the snippet's: it starts the launcher's next step as its one child and reaps
# every process of the run, so that the CPU of all of them, however short-lived, ends up in its
# children's times. Two modes:
#   pidns      PID 1 of the run's own PID namespace: when the child exits it kills what is left
#              (kill -1 reaches exactly the namespace) and reaps it; the kernel kills the rest
#              should this process die.
#   otherwise  a child subreaper in the daemon's PID namespace (where a PID namespace cannot be
#              had, or its /proc cannot be remounted, as under an older gVisor): orphans of the run
#              still come here (where the kernel allows a subreaper), and the daemon kills the
#              sandbox uid's processes from root.
# It reports to the daemon on a descriptor the snippet never holds, one line each:
#   pid <pid>          at start: its pid in the daemon's namespace (the daemon signals it)
#   main <status>      when the child exits: the child's own wait status
#   exit <cpu ms> <0|1> at the end, once nothing of the run is left: the CPU of every process of
#                      the run, and 1 when the child left processes behind
# Signals from the daemon (pidns only): TERM -> TERM and CONT to every process of the run;
# USR1 -> KILL them. A snippet cannot signal, trace or read this process: it is root's, and the
# snippet's uid has no capabilities. Written for perl-base alone (every Debian-based image has it), without modules:
# loading POSIX alone costs ~8 ms, on every run.
use strict;

# Options, comma-separated: pidns, proc (mount a /proc of our own), seccomp, arch=x64|arm64,
# shm=<bytes> (the SysV shared memory cap), fsize=<bytes> (the file size limit), places=<a:b>
# (the folders to look in for a file that reached it), nice=<n> (the run's CPU priority),
# mounts=<fstab> (the run's private tmpfs mounts) and lo (bring the loopback interface up).
my ($status_fd, $options, @argv) = @ARGV;
my %option = map { my ($k, $v) = split(/=/, $_, 2); ($k => $v // 1) } split(/,/, $options);
my $arm = ($option{arch} // '') eq 'arm64';
my ($EINTR, $WNOHANG) = (4, 1);
open(my $status, '>&=', $status_fd) or die "run-init: status fd $status_fd: $!\n";
select((select($status), $| = 1)[0]);
# Our pid in the daemon's PID namespace: /proc is still the parent namespace's until remounted.
my $host_pid = readlink('/proc/self') // 0;
print $status "pid $host_pid\n";
# kill -1 as root outside a PID namespace of our own would reach every process of the machine.
die "run-init: asked for pidns mode but this is not PID 1 of a new namespace\n" if $option{pidns} && $$ != 1;
# A /proc of the run's own PID namespace: the snippet sees its own processes, not the host's.
# Only inside a private mount namespace, where this mount cannot reach the daemon's /proc.
if ($option{proc}) {
    my $mount = $arm ? 40 : 165;
    # MS_NOSUID | MS_NODEV | MS_NOEXEC
    my ($source, $target, $type) = ('proc', '/proc', 'proc');
    syscall($mount, $source, $target, $type, 14, 0) == 0 or die "run-init: mount /proc: $!\n";
}

# SysV shared memory is memory the run's processes need not map (so it is in no one's RSS): in the
# run's own IPC namespace, cap it at the run's memory limit, and keep message queues small. Where the kernel does not let us
# (an older gVisor), the namespace still ends with the run.
if ($option{shm}) {
    # Message queues too: at most 16 queues of 64 KiB each.
    for (['shmmax', $option{shm}], ['shmall', int($option{shm} / 4096)], ['msgmni', 16], ['msgmnb', 65536]) {
        if (open(my $f, '>', "/proc/sys/kernel/$_->[0]")) { print $f "$_->[1]\n"; close($f); }
    }
}
if ($option{pidns}) {
    $SIG{TERM} = sub { kill('TERM', -1); kill('CONT', -1); };
    $SIG{USR1} = sub { kill('KILL', -1); };
} else {
    # The daemon signals the sandbox uid's processes itself; a SIGTERM meant for them must not end
    # the init (a handler, unlike SIG_IGN, is not inherited across exec).
    $SIG{TERM} = sub { };
    # prctl(PR_SET_CHILD_SUBREAPER, 1). An older gVisor refuses it: orphans of the run then go to
    # the container's init, and the CPU of those that die there is not seen (README, known limits).
    syscall($arm ? 167 : 157, 36, 1, 0, 0, 0);
}

my $child = fork();
die "run-init: fork: $!\n" unless defined $child;
if ($child == 0) {
    $SIG{TERM} = 'DEFAULT';
    $SIG{USR1} = 'DEFAULT';
    close($status);
    # Before anything of the run exists, so every process of it inherits the priority (set from
    # outside after the start, it would race with the forks that follow).
    setpriority(0, 0, $option{nice}) if defined $option{nice};
    # Mounts and the loopback here rather than with mount(8) and ip(8): two forks and execs less on
    # every start (each costs milliseconds, tens under gVisor).
    if ($option{mounts} && !eval { mount_table($option{mounts}); 1 }) { print STDERR $@; exit 126; }
    loopback_up() if $option{lo};
    # A set-up failure is the launcher's (126), never mistaken for the snippet's own exit status.
    if ($option{seccomp} && !eval { install_seccomp(); 1 }) { print STDERR $@; exit 126; }
    exec { $argv[0] } @argv or exit 127;
}
# A session's cells are interrupted with SIGINT to the snippet's process group, which this process
# shares: it must not end the init (a handler, unlike SIG_IGN, is not passed on to the child).
$SIG{INT} = sub { };
# The run's pipes belong to the run: holding them here would keep them open after it ended.
open(STDIN, '<', '/dev/null');
open(STDOUT, '>', '/dev/null');
open(STDERR, '>', '/dev/null');

for (;;) {
    my $pid = waitpid(-1, 0);
    if ($pid == $child) { print $status "main $? " . file_size_reached($?) . "\n"; last; }
    if ($pid < 0 && $! != $EINTR) { print $status "main -1\n"; last; }
}
# The snippet's first process is gone: nothing else of the run may outlive it. Reap until nothing
# is left (the kill is ours with a PID namespace, the daemon's without).
my $left = 0;
for (;;) {
    my $pid = waitpid(-1, $WNOHANG);
    last if $pid < 0 && $! != $EINTR;
    next if $pid > 0;
    $left ||= 1;
    kill('KILL', -1) if $option{pidns};
    select(undef, undef, undef, 0.005);
}
my (undef, undef, $cuser, $csys) = times();
printf $status "exit %d %d\n", ($cuser + $csys) * 1000 + 0.5, $left;
exit 0;

# Whether a death by SIGXFSZ was the file size limit's doing (a file of the run reached it) rather
# than a snippet signalling itself: 1 or 0. Looked for while the run's files are still there (its
# private /tmp goes with the namespace), by find(1), which never follows a link.
sub file_size_reached {
    my ($wait) = @_;
    return 0 unless ($wait & 0x7f) == 25 && $option{fsize};
    my @places = grep { -d $_ } ('.', split(/:/, $option{places} // ''));
    # No shell, and bounded: a snippet's tree must not hold the run's end up for long.
    open(my $find, '-|', 'timeout', '5', 'find', @places, '-xdev', '-type', 'f', '-size', '+' . ($option{fsize} - 1) . 'c', '-print', '-quit') or return 0;
    my $found = join('', <$find>);
    close($find);
    return $found eq '' ? 0 : 1;
}

# A small seccomp filter for everything the run executes: no kernel keyrings (a key survives in the
# uid's user keyring after the run, readable by later runs) and no new user namespaces (they open
# kernel surface an unprivileged snippet has no need for). clone3 answers ENOSYS, so that libc
# falls back to clone, whose flags the filter can read.
# The run's private tmpfs mounts, from the table the daemon wrote at start-up (fstab lines: source,
# target with octal escapes, type, options; nosuid and nodev become flags, the rest is data).
sub mount_table {
    my ($file) = @_;
    open(my $table, '<', $file) or die "run-init: mount table $file: $!\n";
    my $mount = $arm ? 40 : 165;
    while (my $line = <$table>) {
        my ($source, $target, $type, $opts) = split(' ', $line);
        next unless defined $opts;
        $target =~ s/\\([0-7]{3})/chr(oct($1))/ge;
        my ($flags, @data) = (0);
        for (split(/,/, $opts)) {
            if ($_ eq 'nosuid') { $flags |= 2 } elsif ($_ eq 'nodev') { $flags |= 4 } else { push(@data, $_) }
        }
        my $data = join(',', @data);
        syscall($mount, $source, $target, $type, $flags, $data) == 0 or die "run-init: mount $target: $!\n";
    }
}

# ip link set lo up: SIOCGIFFLAGS, then SIOCSIFFLAGS with IFF_UP, on struct ifreq (40 bytes). Best
# effort, as before: without it local servers a snippet starts are unreachable, nothing worse.
sub loopback_up {
    socket(my $s, 2, 2, 0) or return;
    my $ifr = pack('a16 s x22', 'lo', 0);
    ioctl($s, 0x8913, $ifr) or return;
    ioctl($s, 0x8914, pack('a16 s x22', 'lo', unpack('x16 s', $ifr) | 1));
}

sub install_seccomp {
    my %arch = (
        x86_64  => { audit => 0xc000003e, add_key => 248, request_key => 249, keyctl => 250, unshare => 272, clone => 56,  clone3 => 435, x32 => 1 },
        aarch64 => { audit => 0xc00000b7, add_key => 217, request_key => 218, keyctl => 219, unshare => 97,  clone => 220, clone3 => 435, x32 => 0 },
    );
    my $a = $arch{$arm ? 'aarch64' : 'x86_64'};
    my ($LD, $JEQ, $JGE, $JSET, $RET) = (0x20, 0x15, 0x35, 0x45, 0x06);
    my ($ALLOW, $ERRNO, $EPERM, $ENOSYS, $NEWUSER) = (0x7fff0000, 0x00050000, 1, 38, 0x10000000);
    my @p;
    my $op = sub { push @p, [@_] };
    $op->($LD, 0, 0, 4);                                   # arch
    $op->($JEQ, 1, 0, $a->{audit});
    $op->($RET, 0, 0, $ERRNO | $ENOSYS);                   # another ABI (i386 on x86_64): refused
    $op->($LD, 0, 0, 0);                                   # syscall number
    if ($a->{x32}) { $op->($JGE, 0, 1, 0x40000000); $op->($RET, 0, 0, $ERRNO | $ENOSYS); }
    for my $name (qw(add_key request_key keyctl)) {
        $op->($JEQ, 0, 1, $a->{$name});
        $op->($RET, 0, 0, $ERRNO | $EPERM);
    }
    $op->($JEQ, 0, 1, $a->{clone3});
    $op->($RET, 0, 0, $ERRNO | $ENOSYS);
    $op->($JEQ, 1, 0, $a->{unshare});
    $op->($JEQ, 0, 3, $a->{clone});
    $op->($LD, 0, 0, 16);                                  # flags: low word of the first argument
    $op->($JSET, 0, 1, $NEWUSER);
    $op->($RET, 0, 0, $ERRNO | $EPERM);
    $op->($RET, 0, 0, $ALLOW);
    my $filter = join('', map { pack('S C C L', @$_) } @p);
    my $prog = pack('S x![P] P', scalar(@p), $filter);
    # prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog); as root no_new_privs is not required.
    my $prctl = $arm ? 167 : 157;
    syscall($prctl, 22, 2, $prog) == 0 or die "run-init: seccomp: $!\n";
}
