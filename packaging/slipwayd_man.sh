#!/bin/bash
# slipwayd(8) from `slipwayd --help` (every flag, each also a key of
# /etc/slipway/slipway.yaml), with what an administrator needs around it.
#   slipwayd_man.sh SLIPWAYD VERSION > slipwayd.8
set -euo pipefail
help=$("$1" --help | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^[.']/\\\\\\&&/")
cat <<MAN
.TH SLIPWAYD 8 "" "slipway $2" "Slipway"
.SH NAME
slipwayd \- the Slipway daemon: sandboxes, images, pipelines and their REST API
.SH SYNOPSIS
.B slipwayd
[\fB\-\-config\fR \fIFILE\fR] [\fIOPTIONS\fR]
.SH DESCRIPTION
slipwayd runs every sandbox through slipway\-monitor, keeps images, containers and
pipeline runs in /var/lib/slipway, and serves the REST API the \fBslipway\fR(1)
client uses. The package runs it as the systemd unit slipway.service
(Type=notify: READY=1 once the API answers).
Every option is also a key of the configuration file (dashes become underscores);
flags override the file.
.SH OPTIONS
.nf
$help
.fi
.SH SIGNALS
.TP
.B SIGTERM, SIGINT
Drain: stop accepting, let runs and sandboxes end for shutdown_timeout, then exit;
sandboxes still running are adopted by the next slipwayd.
.TP
.B SIGHUP
Reopen log_file.
.SH FILES
.TP
.B /etc/slipway/slipway.yaml
The configuration (every key, with its default).
.TP
.B /var/lib/slipway
Data: images, the database, the control token (control.token, mode 0600).
.TP
.B /run/slipway
State of running sandboxes.
.TP
.B /usr/share/slipway/hello\-world.tar
The hello\-world image, imported at start\-up when the store has none.
.SH SEE ALSO
\fBslipway\fR(1), systemctl(1), /usr/share/doc/slipway/install.md
MAN
