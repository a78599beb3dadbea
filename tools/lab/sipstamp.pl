#!/usr/bin/perl
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# understudy lab: baresip's output (baresip -s, SIP trace on) in, the time
# of every line added, out as two files:
#   MSGS  one line per SIP message sent or received, in the columns of
#         SIPp's -trace_shortmsg (date, time, epoch seconds, S|R, Call-ID,
#         CSeq, first line), then To-tag, From-tag and the peer's address
#   LOG   baresip's own lines (calls answered, closed, errors), timed
# and, given a third file, TRACE: every SIP message whole (tools/lab.sh --trace).
# The time is when the line reached this filter: baresip writes it as it
# sends or receives (line-buffered, stdbuf -oL), a few microseconds later.
#
# usage: sipstamp.pl LOCAL-ADDRESS:PORT MSGS LOG [TRACE]   (baresip on stdin)
use strict;
use warnings;
use POSIX qw(strftime);
use Time::HiRes qw(time);
use IO::Handle;

@ARGV >= 3 or die "usage: sipstamp.pl LOCAL-ADDRESS:PORT MSGS LOG [TRACE]\n";
my ($local, $msgs, $log, $trace) = @ARGV;
open(my $M, '>>', $msgs) or die "sipstamp: $msgs: $!\n";
open(my $L, '>>', $log) or die "sipstamp: $log: $!\n";
my $T;
if (defined $trace) { open($T, '>>', $trace) or die "sipstamp: $trace: $!\n"; }
for my $h ($M, $L, $T) { $h->autoflush(1) if defined $h; }

sub stamp {
	my $t = shift;
	my $us = sprintf('%06d', ($t - int($t)) * 1e6);
	return strftime('%Y-%m-%d', localtime($t)) . "\t" .
	    strftime('%H:%M:%S', localtime($t)) . ".$us\t" . sprintf('%d.%s', $t, $us);
}

# the value of a header (long or compact name), first occurrence
sub header {
	my ($hdrs, @names) = @_;
	for my $l (@$hdrs) {
		for my $n (@names) {
			return $1 if $l =~ /^\Q$n\E[ \t]*:[ \t]*(.*?)[ \t]*$/i;
		}
	}
	return '';
}

# the tag parameter of a From or To value: after the URI's ">", if any
sub tag {
	my $v = shift;
	$v =~ s/^.*>//;
	return $v =~ /;[ \t]*tag[ \t]*=[ \t]*([^;, \t]+)/i ? $1 : '-';
}

my ($in, $t, $addr, @msg) = (0, 0, undef);
while (my $line = <STDIN>) {
	$line =~ s/\r?\n\z//;
	if (!$in) {
		# a trace block opens with the colour escape and "#"
		if ($line =~ /^(?:\e\[[0-9;]*m)?#$/) {
			($in, $t, $addr, @msg) = (1, time, undef);
			next;
		}
		$line =~ s/\e\[[0-9;]*m//g;
		next if $line eq '';
		print $L stamp(time), "\t", $line, "\n";
		next;
	}
	if ($line =~ /^\e\[;?m$/) {
		$in = 0;
		next unless defined $addr && @msg;
		my ($src, $dst) = $addr =~ /^\S+\s+(\S+)\s+->\s+(\S+)/ or next;
		my @hdrs;
		for my $l (@msg[1 .. $#msg]) { last if $l eq ''; push @hdrs, $l; }
		my $out = $src eq $local;
		my $cseq = header(\@hdrs, 'CSeq');
		$cseq =~ s/\s+/ /g;
		print $M join("\t", stamp($t), $out ? 'S' : 'R', header(\@hdrs, 'Call-ID', 'i'),
		    "CSeq:$cseq", $msg[0], tag(header(\@hdrs, 'To', 't')),
		    tag(header(\@hdrs, 'From', 'f')), $out ? $dst : $src), "\n";
		if (defined $T) { print $T stamp($t), "\t$addr\n", join("\n", @msg), "\n\n"; }
		next;
	}
	if (!defined $addr) { $addr = $line; next; }
	push @msg, $line;
}
