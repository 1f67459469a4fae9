/* frontdesk: one binary, subcommands. Argument parsing and wiring only; the
 * work is in the modules. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "chat.h"
#include "engine.h"
#include "eval.h"
#include "hours.h"
#include "auth.h"
#include "kbfile.h"
#include "notify.h"
#include "server.h"
#include "store.h"
#include "usercli.h"
#include "util.h"

#define DEFAULT_DB "data/frontdesk.db"

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  frontdesk serve [--listen ADDR:PORT] [--db PATH] [--web DIR] [--kb-dir DIR]\n"
	      "                  [--allow-origin URL]... [--threshold X] [--max-conn-per-ip N]\n"
	      "                  [--rate-burst N] [--rate-per-sec R] [--tls-cert PEM --tls-key PEM]\n"
	      "                  [--rate-per-ip-burst N] [--rate-per-ip-per-sec R (0: off)]\n"
	      "                  [--group-commit on|off (on: one commit per pass of the loop)]\n"
	      "                  [--session-idle SECONDS] [--public-url URL]\n"
	      "                  [--webhook URL]... [--webhook-slack URL]... [--pretend-time UNIX]\n"
	      "  frontdesk webhook-secret [--db PATH]   (the key receivers check signatures with)\n"
	      "  frontdesk backup [--db PATH] FILE   (a consistent copy, safe while serving)\n"
	      "  frontdesk user add NAME --role staff|admin [--display NAME] [--db PATH]\n"
	      "  frontdesk user list|disable NAME|enable NAME|password NAME [--db PATH]\n"
	      "                  (passwords: asked on the terminal, or one line of stdin)\n"
	      "  frontdesk kb import [--db PATH] FILE...\n"
	      "  frontdesk kb export [--db PATH]\n"
	      "  frontdesk kb hours [--db PATH] FILE   (opening hours, see kb/hours.json)\n"
	      "  frontdesk ask [--db PATH] [--threshold X] TEXT\n"
	      "  frontdesk eval --kb FILE [--kb FILE]... --queries FILE|TSV [--threshold X] [--verbose]\n"
	      "defaults: --listen 127.0.0.1:8080 --db " DEFAULT_DB " --web web --kb-dir kb\n", f);
}

/* Creates the directory that will hold path, if needed (one level). */
static void make_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "frontdesk: cannot create %s: %s\n", dir, strerror(errno));
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

/* Parses and imports files in one transaction; reports FILE:LINE errors. */
static int import_files(store *st, char **files, int n, FILE *report)
{
	kb_list kb = { 0 };
	char err[512];
	int bad = 0;
	for (int i = 0; i < n; i++) {
		int r = kb_parse_file(files[i], &kb, report, err, sizeof err);
		if (r < 0) {
			fprintf(report, "%s\n", err);
			bad++;
		} else {
			bad += r;
		}
	}
	if (bad) {
		fprintf(report, "frontdesk: %d error%s, nothing imported\n", bad, bad == 1 ? "" : "s");
		kb_list_free(&kb);
		return -1;
	}
	if (store_kb_upsert(st, &kb, err, sizeof err) < 0) {
		fprintf(report, "frontdesk: import failed, nothing imported: %s\n", err);
		kb_list_free(&kb);
		return -1;
	}
	fprintf(report, "frontdesk: imported %zu entries\n", kb.n);
	kb_list_free(&kb);
	return 0;
}

/* Validates an opening-hours file (hours.h) and stores it for the engine. */
static int import_hours(store *st, const char *path, FILE *report)
{
	json_error_t jerr;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	char why[256], *text = NULL;
	hours_config *c = NULL;
	int rc = -1;
	if (!j) {
		fprintf(report, "%s:%d: %s\n", path, jerr.line, jerr.text);
		return -1;
	}
	if (!(c = hours_config_parse(j, why, sizeof why))) {
		fprintf(report, "%s: %s\n", path, why);
		goto out;
	}
	if (!(text = json_dumps(j, JSON_COMPACT)) ||
	    store_meta_set(st, "hours", text, why, sizeof why) < 0) {
		fprintf(report, "%s: not stored: %s\n", path, text ? why : "out of memory");
		goto out;
	}
	fprintf(report, "frontdesk: opening hours from %s\n", path);
	rc = 0;
out:
	free(text);
	hours_config_free(c);
	json_decref(j);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Imports every *.jsonl of dir (sorted) into an empty knowledge base. */
static int seed_from_dir(store *st, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *files[256];
	int n = 0, rc;
	if (!d) {
		fprintf(stderr, "frontdesk: no knowledge base in %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) && n < 256) {
		size_t l = strlen(de->d_name);
		char path[PATH_MAX];
		if (l < 6 || strcmp(de->d_name + l - 6, ".jsonl") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		files[n++] = strdup(path);
	}
	closedir(d);
	qsort(files, (size_t)n, sizeof *files, cmp_str);
	rc = import_files(st, files, n, stderr);
	if (rc == 0) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/hours.json", dir);
		if (access(path, R_OK) == 0)
			rc = import_hours(st, path, stderr);
	}
	for (int i = 0; i < n; i++)
		free(files[i]);
	return rc;
}

/* --pretend-time: the clinic's clock starts at a given time and runs on
 * (demos and tests of opening hours; never needed in production). */
static int64_t pretend_base, pretend_started;

static int64_t pretend_clock(void)
{
	return pretend_base + (util_mono_us() - pretend_started) / 1000000;
}

/* The webhook signing key: made once per database, kept in meta. */
static int webhook_secret(store *st, char out[65], char *err, size_t errsz)
{
	unsigned char raw[32];
	if (store_meta_get(st, "webhook_secret", out, 65) == 0 && out[0])
		return 0;
	if (util_random(raw, sizeof raw) < 0) {
		snprintf(err, errsz, "no randomness available");
		return -1;
	}
	util_hex(raw, sizeof raw, out);
	return store_meta_set(st, "webhook_secret", out, err, errsz);
}

static int cmd_serve(int argc, char **argv)
{
	notify_hook hooks[NOTIFY_MAX_HOOKS];
	size_t n_hooks = 0;
	const char *public_url = NULL;
	char console_url[512], secret[65];
	auth *au = NULL;
	notify *nt = NULL;
	const char *db = DEFAULT_DB, *web = "web", *kbdir = "kb", *listen = "127.0.0.1:8080";
	server_config cfg = { 0 };
	char iface[128], webabs[PATH_MAX], err[512];
	double threshold = -1;
	store *st = NULL;
	engine *eng = NULL;
	chat_ctx ctx = { 0 };
	int rc = 1;
	const char *colon;

#ifdef __GLIBC__
	/* glibc gives the top of the heap back to the kernel (brk) whenever more
	 * than 128 KiB of it is free, and takes it back on the next allocation:
	 * under load SQLite's temporary b-trees (an UPDATE of an indexed column)
	 * did that on every message, and each shrink is a TLB shootdown across
	 * cores (perf: 12% of the server's time). Keep up to 64 MiB. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
#endif
	/* Before any thread starts (the checkpointer): libcurl's global setup is
	 * not thread-safe. notify_open's own call then only counts up. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "frontdesk: libcurl could not start\n");
		return 1;
	}
	cfg.max_conn_per_ip = 200;
	cfg.group_commit = 1;
	cfg.ip_burst = 60;        /* messages an address may send at once ... */
	cfg.ip_per_sec = 10;      /* ... then this many a second (a clinic's NAT: many patients) */
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "frontdesk serve: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--db") == 0) db = v;
		else if (strcmp(a, "--web") == 0) web = v;
		else if (strcmp(a, "--kb-dir") == 0) kbdir = v;
		else if (strcmp(a, "--listen") == 0) listen = v;
		else if (strcmp(a, "--allow-origin") == 0 && cfg.n_origins < SERVER_MAX_ORIGINS)
			cfg.origins[cfg.n_origins++] = v;
		else if (strcmp(a, "--threshold") == 0 && parse_double(v, &threshold) == 0) ;
		else if (strcmp(a, "--max-conn-per-ip") == 0) cfg.max_conn_per_ip = atoi(v);
		else if (strcmp(a, "--tls-cert") == 0) cfg.tls_cert = v;
		else if (strcmp(a, "--tls-key") == 0) cfg.tls_key = v;
		else if (strcmp(a, "--rate-burst") == 0 && atof(v) >= 1) ctx.burst = atof(v);
		else if (strcmp(a, "--rate-per-sec") == 0 && atof(v) > 0) ctx.refill_per_sec = atof(v);
		else if (strcmp(a, "--session-idle") == 0 && atoi(v) > 0) cfg.session_idle_s = atoi(v);
		else if (strcmp(a, "--rate-per-ip-burst") == 0 && atof(v) >= 1) cfg.ip_burst = atof(v);
		else if (strcmp(a, "--rate-per-ip-per-sec") == 0 && atof(v) >= 0) cfg.ip_per_sec = atof(v);
		else if (strcmp(a, "--group-commit") == 0 && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0))
			cfg.group_commit = strcmp(v, "on") == 0;
		else if (strcmp(a, "--public-url") == 0) public_url = v;
		else if ((strcmp(a, "--webhook") == 0 || strcmp(a, "--webhook-slack") == 0) &&
			 n_hooks < NOTIFY_MAX_HOOKS &&
			 (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)) {
			hooks[n_hooks].url = v;
			hooks[n_hooks++].format = strcmp(a, "--webhook") == 0 ? NOTIFY_GENERIC : NOTIFY_SLACK;
		} else if (strcmp(a, "--pretend-time") == 0 && atoll(v) > 0) {
			pretend_base = atoll(v);
			pretend_started = util_mono_us();
		} else {
			fprintf(stderr, "frontdesk serve: bad option %s %s\n", a, v);
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (!cfg.tls_cert != !cfg.tls_key) {
		fprintf(stderr, "frontdesk serve: --tls-cert and --tls-key go together\n");
		return 2;
	}
	colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof iface) {
		fprintf(stderr, "frontdesk serve: --listen wants ADDR:PORT, e.g. 127.0.0.1:8080\n");
		return 2;
	}
	snprintf(iface, sizeof iface, "%.*s", (int)(colon - listen), listen);
	cfg.iface = iface;
	cfg.port = atoi(colon + 1);
	if (!realpath(web, webabs)) {
		fprintf(stderr, "frontdesk serve: web directory %s: %s\n", web, strerror(errno));
		return 1;
	}
	cfg.web_dir = webabs;

	make_parent_dir(db);
	if (store_open(db, &st, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (store_kb_count(st) == 0 && seed_from_dir(st, kbdir) < 0)
		goto out;
	if (store_start_checkpointer(st, db, 1000, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (engine_open(st, &eng, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (threshold < 0) { /* an admin's setting, unless the command line says otherwise */
		char v[32];
		if (store_meta_get(st, "threshold", v, sizeof v) == 0 && parse_double(v, &threshold) < 0)
			threshold = -1;
	}
	if (threshold >= 0)
		engine_set_threshold(eng, threshold);
	if (pretend_base)
		engine_set_clock(eng, pretend_clock);
	if (auth_open(st, cfg.session_idle_s, &au, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (public_url)
		snprintf(console_url, sizeof console_url, "%s/staff", public_url);
	else
		snprintf(console_url, sizeof console_url, "%s://%s/staff", cfg.tls_cert ? "https" : "http",
			 listen);
	if (webhook_secret(st, secret, err, sizeof err) < 0 ||
	    notify_open(st, hooks, n_hooks, secret, console_url, &nt, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	ctx.st = st;
	ctx.eng = eng;
	ctx.now_us = util_mono_us;
	chat_default_messages(&ctx.msg);
	{
		/* An admin's own texts for the patient messages, if any. */
		char *v = malloc(65536);
		json_t *m = NULL;
		if (v && store_meta_get(st, "messages", v, 65536) == 0 && v[0])
			m = json_loads(v, 0, NULL);
		free(v);
		if (m && chat_messages_check(m, err, sizeof err) == 0)
			chat_messages_apply(&ctx, m);
		else
			json_decref(m);
	}
	LOG_INFO("database %s, %zu knowledge-base entries", db, engine_entry_count(eng));
	if (server_run(&cfg, &ctx, au, nt, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	LOG_INFO("stopped");
	rc = 0;
out:
	json_decref(ctx.custom_msg);
	notify_close(nt);
	auth_close(au);
	engine_free(eng);
	store_close(st);
	curl_global_cleanup();
	return rc;
}

static int cmd_webhook_secret(int argc, char **argv)
{
	const char *db = DEFAULT_DB;
	char secret[65], err[256];
	store *st = NULL;
	int rc = 1;
	if (argc == 2 && strcmp(argv[0], "--db") == 0)
		db = argv[1];
	else if (argc != 0) {
		usage(stderr);
		return 2;
	}
	if (store_open(db, &st, err, sizeof err) < 0 || webhook_secret(st, secret, err, sizeof err) < 0)
		fprintf(stderr, "frontdesk: %s\n", err);
	else {
		printf("%s\n", secret);
		rc = 0;
	}
	store_close(st);
	return rc;
}

/* Picks --db out of argv; the rest stays in place. Returns the new argc. */
static int take_db(int argc, char **argv, const char **db)
{
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
			*db = argv[++i];
			continue;
		}
		argv[n++] = argv[i];
	}
	return n;
}

static int cmd_kb(int argc, char **argv)
{
	const char *db = DEFAULT_DB;
	store *st = NULL;
	char err[512];
	int rc = 1;

	argc = take_db(argc, argv, &db);
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[0], "import") == 0 && argc < 2) {
		fprintf(stderr, "frontdesk kb import: which files?\n");
		return 2;
	}
	make_parent_dir(db);
	if (store_open(db, &st, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "import") == 0) {
		rc = import_files(st, argv + 1, argc - 1, stderr) < 0 ? 1 : 0;
	} else if (strcmp(argv[0], "hours") == 0 && argc == 2) {
		rc = import_hours(st, argv[1], stderr) < 0 ? 1 : 0;
	} else if (strcmp(argv[0], "export") == 0) {
		kb_list kb = { 0 };
		if (store_kb_load(st, &kb, err, sizeof err) < 0) {
			fprintf(stderr, "frontdesk: %s\n", err);
		} else {
			for (size_t i = 0; i < kb.n; i++) {
				json_t *j = kb_entry_to_json(&kb.v[i]);
				json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
				fputc('\n', stdout);
				json_decref(j);
			}
			rc = 0;
		}
		kb_list_free(&kb);
	} else {
		usage(stderr);
		rc = 2;
	}
	store_close(st);
	return rc;
}

static int cmd_ask(int argc, char **argv)
{
	const char *db = DEFAULT_DB, *text = NULL;
	double threshold = -1;
	store *st = NULL;
	engine *eng = NULL;
	chat_ctx ctx = { 0 };
	engine_decision d;
	char err[512];
	json_t *out, *matches;
	int rc = 1;

	argc = take_db(argc, argv, &db);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc &&
		    parse_double(argv[i + 1], &threshold) == 0)
			i++;
		else
			text = argv[i];
	}
	if (!text) {
		fprintf(stderr, "frontdesk ask: what question?\n");
		return 2;
	}
	if (store_open(db, &st, err, sizeof err) < 0 || engine_open(st, &eng, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (threshold >= 0)
		engine_set_threshold(eng, threshold);
	ctx.st = st;
	ctx.eng = eng;
	chat_default_messages(&ctx.msg);
	if (engine_decide(eng, text, strlen(text), -1, &d, err, sizeof err) < 0)
		fprintf(stderr, "frontdesk: %s\n", err);
	matches = json_array();
	for (size_t i = 0; i < d.n_matches; i++)
		json_array_append_new(matches, json_pack("{s:s, s:f}", "entry", d.matches[i].entry->id,
							 "score", d.matches[i].score));
	out = json_pack("{s:s, s:s?, s:f, s:s, s:s, s:s, s:o}", "type", engine_kind_name(d.kind),
			"entry", d.entry ? d.entry->id : NULL, "confidence", d.confidence,
			"reason", engine_reason_name(d.reason),
			"lang", d.lang == TEXT_LANG_ES ? "es" : "en",
			"text", chat_reply_text(&ctx, &d), "matches", matches);
	json_dumpf(out, stdout, JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(out);
	rc = 0;
out:
	engine_free(eng);
	store_close(st);
	return rc;
}

static int cmd_backup(int argc, char **argv)
{
	const char *db = DEFAULT_DB;
	store *st = NULL;
	char err[512];
	int rc = 1;

	argc = take_db(argc, argv, &db);
	if (argc != 1) {
		fprintf(stderr, "frontdesk backup: which file to write?\n");
		return 2;
	}
	if (store_open(db, &st, err, sizeof err) < 0 || store_backup(st, argv[0], err, sizeof err) < 0)
		fprintf(stderr, "frontdesk backup: %s\n", err);
	else {
		fprintf(stderr, "frontdesk: backed up %s to %s\n", db, argv[0]);
		rc = 0;
	}
	store_close(st);
	return rc;
}

static int cmd_eval(int argc, char **argv)
{
	const char *kb[16], *queries = NULL;
	int n_kb = 0;
	double threshold = -1;
	int verbose = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--kb") == 0 && i + 1 < argc && n_kb < 16)
			kb[n_kb++] = argv[++i];
		else if (strcmp(argv[i], "--queries") == 0 && i + 1 < argc)
			queries = argv[++i];
		else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc &&
			 parse_double(argv[i + 1], &threshold) == 0)
			i++;
		else if (strcmp(argv[i], "--verbose") == 0)
			verbose = 1;
		else {
			usage(stderr);
			return 2;
		}
	}
	if (n_kb == 0 || !queries) {
		usage(stderr);
		return 2;
	}
	return eval_run(kb, n_kb, queries, threshold, verbose, stdout);
}

int main(int argc, char **argv)
{
	/* The database holds health information: files we create are the
	 * owner's alone (data/ 0700, frontdesk.db and its WAL 0600). */
	umask(077);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc - 2, argv + 2);
	if (strcmp(argv[1], "kb") == 0)
		return cmd_kb(argc - 2, argv + 2);
	if (strcmp(argv[1], "ask") == 0)
		return cmd_ask(argc - 2, argv + 2);
	if (strcmp(argv[1], "eval") == 0)
		return cmd_eval(argc - 2, argv + 2);
	if (strcmp(argv[1], "backup") == 0)
		return cmd_backup(argc - 2, argv + 2);
	if (strcmp(argv[1], "webhook-secret") == 0)
		return cmd_webhook_secret(argc - 2, argv + 2);
	if (strcmp(argv[1], "user") == 0)
		return usercli_main(argc - 1, argv + 1, DEFAULT_DB);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
