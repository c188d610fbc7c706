#!/usr/bin/perl
# xterm-js-shell's spawner: starts shells on pseudo-terminals the server opened, so that the
# large Node.js server never forks. See docs/spawner.md for the protocol and the why.
#
#   stdin   S ID HEX(PTY) HEX(CWD) HEX(ARGV joined by NUL) HEX(ENV joined by NUL)
#   stdout  P ID PID START HELD | E ID HEX(MESSAGE) | X PID CODE|- SIGNAL|- HELD
#
# START is the shell's start time (clock ticks since boot, /proc/PID/stat field 22); HELD is
# "AT FORKS LASTPID TASKS" (or "- - - -"): the uptime in ticks, /proc/stat's fork counter, and
# /proc/loadavg's last pid and task count, read while the shell was our unreaped child, so while
# its pid was certainly still its own. With them the server proves, when it ends a session, that
# the numbers it signals were not handed to other processes since (docs/operations.md).
#
# Linux only: the ioctl and termios numbers below are Linux's.
use strict;
use warnings;
use POSIX ();

use constant {
  TIOCSCTTY => 0x540E,
  BRKINT => 0x0002,
  IXANY => 0x0800,
  IMAXBEL => 0x2000,
  IUTF8 => 0x4000,
  # After the server is gone: how long shells get to end after SIGHUP before SIGKILL.
  HANGUP_GRACE_SECONDS => 3,
};

$0 = 'xterm-js-shell-spawner';

# Descriptors inherited from the server (pty masters among them) must not reach any shell.
opendir(my $fds, '/proc/self/fd') or die "spawner: /proc/self/fd: $!\n";
my @inherited = grep { /^\d+$/ && $_ > 2 } readdir $fds;
closedir $fds;
POSIX::close($_) for @inherited;

# The server ends shells itself: signals meant for it (Ctrl+C, systemctl stop) must not end us
# first, or exit statuses would be lost.
$SIG{$_} = 'IGNORE' for qw(INT TERM HUP QUIT PIPE);

my %shells;    # pid => start time, for every shell started and not yet reaped
my %reaped;    # pid => uptime in ticks just before it was reaped, while hanging up
my $hanging_up = 0;

# SIGCHLD wakes the select loop through a pipe (no race between waitpid and select).
pipe(my $wake_read, my $wake_write) or die "spawner: pipe: $!\n";
for my $handle ($wake_read, $wake_write) {
  my $flags = fcntl($handle, POSIX::F_GETFL(), 0);
  fcntl($handle, POSIX::F_SETFL(), $flags | POSIX::O_NONBLOCK());
}
$SIG{CHLD} = sub { syswrite($wake_write, 'c') };

sub reply { syswrite(STDOUT, join(' ', @_) . "\n") }
sub hex_of { unpack('H*', $_[0]) }
sub of_hex { pack('H*', $_[0] // '') }

sub first_line {
  open(my $file, '<', $_[0]) or return '';
  my $line = <$file> // '';
  close $file;
  return $line;
}

# A process's start time in clock ticks since boot, or '-'.
sub start_time {
  my $line = first_line("/proc/$_[0]/stat");
  my @fields = split / /, substr($line, rindex($line, ')') + 2);
  return defined $fields[19] && $fields[19] =~ /^\d+$/ ? $fields[19] : '-';
}

# The allocator's counters now: uptime in ticks, forks since boot, last pid, tasks.
sub held_proof {
  my ($seconds, $hundredths) = first_line('/proc/uptime') =~ /^(\d+)\.(\d\d)/;
  my ($tasks, $last) = first_line('/proc/loadavg') =~ m{^\S+ \S+ \S+ \d+/(\d+) (\d+)};
  my $forks;
  if (open(my $stat, '<', '/proc/stat')) {
    while (<$stat>) {
      if (/^processes (\d+)$/) { $forks = $1; last; }
    }
    close $stat;
  }
  return ('-') x 4 unless defined $seconds && defined $tasks && defined $forks;
  return ($seconds * 100 + $hundredths, $forks, $last, $tasks);
}

sub reap {
  for (;;) {
    # Read before waitpid: until it returns, an exited shell is a zombie that keeps its pid.
    my @held = %shells ? held_proof() : (('-') x 4);
    my $pid = waitpid(-1, POSIX::WNOHANG());
    last if $pid <= 0;
    my $status = $?;
    next unless defined delete $shells{$pid};
    $reaped{$pid} = $held[0] if $hanging_up;
    my $signal = $status & 127;
    reply('X', $pid, ($signal ? ('-', $signal) : ($status >> 8, '-')), @held);
  }
}

# In the child: becomes the shell. Never returns.
sub become_shell {
  my ($tty, $cwd, $argv, $env) = @_;
  $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP QUIT PIPE CHLD);
  POSIX::setsid();
  ioctl($tty, TIOCSCTTY, 0);
  my $fd = fileno $tty;
  POSIX::dup2($fd, $_) for 0, 1, 2;
  POSIX::close($fd) if $fd > 2;
  chdir $cwd or print STDERR "xterm-js-shell: cannot change to $cwd: $!\r\n";
  %ENV = map { split /=/, $_, 2 } @$env;
  { exec { $argv->[0] } @$argv; }
  print STDERR "xterm-js-shell: cannot start $argv->[0]: $!\r\n";
  POSIX::_exit(127);
}

sub start {
  my ($id, $pty, $cwd, $argv, $env) = @_;
  my @argv = split /\0/, of_hex($argv), -1;
  my @env = split /\0/, of_hex($env), -1;
  return reply('E', $id, hex_of('empty command')) unless @argv;
  $pty = of_hex($pty);
  my $tty;
  sysopen($tty, $pty, POSIX::O_RDWR() | POSIX::O_NOCTTY())
    or return reply('E', $id, hex_of("cannot open $pty: $!"));
  my $termios = POSIX::Termios->new;
  if ($termios->getattr(fileno $tty)) {
    $termios->setiflag($termios->getiflag | BRKINT | IXANY | IMAXBEL | IUTF8);
    $termios->setattr(fileno $tty, POSIX::TCSANOW());
  }
  my $pid = fork;
  if (!defined $pid) {
    my $error = "fork: $!";
    close $tty;
    return reply('E', $id, hex_of($error));
  }
  become_shell($tty, of_hex($cwd), \@argv, \@env) if $pid == 0;
  close $tty;
  # Not reaped before this reply (reap runs in the main loop): both are the shell's own.
  my $start = start_time($pid);
  $shells{$pid} = $start;
  reply('P', $id, $pid, $start, held_proof());
}

# Every process in the given sessions (a shell's and its jobs'), from /proc. Only processes
# that certainly belong to the shell's session: while the shell is unreaped its pid (the
# session's number) is its own; once reaped, a process that started before the reaping
# inherited the number from the session. Later ones may be a new session that got the number.
sub session_members {
  my %sessions = map { $_ => 1 } @_;
  my @members;
  opendir(my $proc, '/proc') or return ();
  for my $pid (grep { /^\d+$/ } readdir $proc) {
    my $line = first_line("/proc/$pid/stat");
    my @fields = split / /, substr($line, rindex($line, ')') + 2);
    my ($session, $start) = @fields[3, 19];
    next unless defined $start && defined $session && $sessions{$session};
    next unless exists $shells{$session}
      || (defined $reaped{$session} && $reaped{$session} ne '-' && $start < $reaped{$session});
    push @members, $pid;
  }
  closedir $proc;
  return @members;
}

# The server is gone (or done): hang up the shells still running, then kill their sessions.
sub hang_up {
  $hanging_up = 1;
  my @sessions = keys %shells;
  return unless @sessions;
  kill 'HUP', map { -$_ } @sessions;
  for (1 .. HANGUP_GRACE_SECONDS * 20) {    # 50 ms steps
    last unless %shells;
    select(undef, undef, undef, 0.05);
    reap();
  }
  kill 'KILL', session_members(@sessions) for 1 .. 2;    # twice: a fork may race the first
}

my $input = '';
for (;;) {
  reap();
  my $want = '';
  vec($want, fileno(STDIN), 1) = 1;
  vec($want, fileno($wake_read), 1) = 1;
  my $ready = select(my $got = $want, undef, undef, undef);
  next if $ready <= 0;    # EINTR: a signal; reap and wait again
  sysread($wake_read, my $ignored, 512) if vec($got, fileno($wake_read), 1);
  next unless vec($got, fileno(STDIN), 1);
  my $count = sysread(STDIN, $input, 65536, length $input);
  next if !defined $count && $!{EINTR};
  last unless $count;
  while ($input =~ s/\A([^\n]*)\n//) {
    my ($type, @fields) = split / /, $1;
    start(@fields) if $type eq 'S' && @fields == 5;
  }
}
hang_up();
