/* notify: tell the service manager about our state (the sd_notify
 * protocol, without libsystemd): a datagram to $NOTIFY_SOCKET. */
#ifndef FTPGATE_NOTIFY_H
#define FTPGATE_NOTIFY_H

/* Send `state` (e.g. "READY=1", "STOPPING=1"). Returns 1 when sent, 0 when
 * no service manager asked for it ($NOTIFY_SOCKET unset), or negative
 * errno. */
int notify_send(const char *state);

#endif
