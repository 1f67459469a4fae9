/* server: the libwebsockets glue. Static files from the web directory, a small
 * JSON status route, and the patient chat WebSocket (/ws, subprotocol
 * frontdesk-chat) whose frames go to chat_handle. The only module that
 * includes libwebsockets.h. */
#ifndef FD_SERVER_H
#define FD_SERVER_H

#include <stddef.h>

#include "auth.h"
#include "chat.h"
#include "notify.h"

#define SERVER_MAX_FRAME 16384        /* a bigger message is closed with 1009 */
#define SERVER_MAX_QUEUED 256         /* frames waiting for a slow client */
#define SERVER_MAX_ORIGINS 16

typedef struct server_config {
	const char *iface;            /* listen address, "127.0.0.1" by default */
	int port;                     /* 0: any free port (printed) */
	const char *web_dir;          /* absolute path of the static files */
	const char *origins[SERVER_MAX_ORIGINS];  /* allowed widget origins besides our own */
	size_t n_origins;
	int max_conn_per_ip;          /* 0: unlimited */
	const char *tls_cert;         /* PEM files; both set: serve https/wss only */
	const char *tls_key;
	int session_idle_s;           /* staff sessions end after this idle time; 0: 15 min */
	double ip_burst;              /* patient messages per address at once ... */
	double ip_per_sec;            /* ... refilled at this rate; 0: no per-address limit */
	int group_commit;             /* 1: the patient messages of one pass of the event
				       * loop share one commit (batch.h); 0: one each */
} server_config;

/* Runs until SIGINT or SIGTERM, then closes every chat with 1001 and returns
 * 0 (or -1 if it could not start, with the reason in err). cfg, ctx, au and
 * nt (NULL: no webhooks) are borrowed for the duration; the server makes the
 * staff desk and sets ctx->desk to it while it runs. Prints "frontdesk: listening on URL" to stdout
 * once it accepts connections. */
int server_run(const server_config *cfg, chat_ctx *ctx, auth *au, notify *nt,
	       char *err, size_t errsz);

#endif
