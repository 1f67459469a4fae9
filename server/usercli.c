/* usercli: see usercli.h. */
#include "usercli.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "auth.h"
#include "store.h"
#include "util.h"

/* The terminal's settings while echo is off, for the signal handler that
 * puts them back if the admin presses Ctrl-C at the prompt. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty_and_die(int sig)
{
	if (tty_changed)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void usage(FILE *f)
{
	fputs("usage:\n"
	      "  frontdesk user add NAME --role staff|admin [--display NAME] [--db PATH]\n"
	      "  frontdesk user list [--db PATH]\n"
	      "  frontdesk user disable NAME [--db PATH]\n"
	      "  frontdesk user enable NAME [--db PATH]\n"
	      "  frontdesk user password NAME [--db PATH]\n"
	      "passwords are asked on the terminal, or read as one line of stdin\n", f);
}

/* Reads one line into buf (size >= AUTH_PASSWORD_MAX + 3) without its line
 * ending. 0, or -1 with the reason in err (nothing, or too long). */
static int read_line(char *buf, size_t bufsz, char *err, size_t errsz)
{
	size_t n;
	if (!fgets(buf, (int)bufsz, stdin)) {
		snprintf(err, errsz, "no password given%s", isatty(STDIN_FILENO) ? "" : " on stdin");
		return -1;
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (n == bufsz - 1) {
		snprintf(err, errsz, "password too long (at most %d bytes)", AUTH_PASSWORD_MAX);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* Prompts on stderr and reads a line from the terminal with echo off. */
static int read_hidden(const char *prompt, char *buf, size_t bufsz, char *err, size_t errsz)
{
	struct termios quiet;
	int rc;

	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
		snprintf(err, errsz, "terminal: %s", strerror(errno));
		return -1;
	}
	quiet = saved_tty;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	fputs(prompt, stderr);
	fflush(stderr);
	tty_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0) {
		tty_changed = 0;
		snprintf(err, errsz, "terminal: %s", strerror(errno));
		return -1;
	}
	rc = read_line(buf, bufsz, err, errsz);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
	tty_changed = 0;
	fputc('\n', stderr);
	return rc;
}

/* The new password for name: from the terminal (asked twice, checked
 * against the rules after the first time) or one line of stdin. */
static int read_new_password(const char *name, char *buf, size_t bufsz, char *err, size_t errsz)
{
	char again[AUTH_PASSWORD_MAX + 3], prompt[128];
	struct sigaction sa, old[4];
	const int sigs[4] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	int rc = -1;

	if (!isatty(STDIN_FILENO))
		return read_line(buf, bufsz, err, errsz);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = restore_tty_and_die;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	snprintf(prompt, sizeof prompt, "New password for %s (at least %d characters): ", name,
		 AUTH_PASSWORD_MIN);
	if (read_hidden(prompt, buf, bufsz, err, errsz) < 0 ||
	    auth_password_check(buf, err, errsz) < 0 ||
	    read_hidden("Again: ", again, sizeof again, err, errsz) < 0)
		goto out;
	if (strcmp(buf, again) != 0) {
		snprintf(err, errsz, "the two passwords differ");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(again, sizeof again);
	for (int i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	return rc;
}

/* Creates the directory that will hold path, if needed (one level), so a
 * first `user add` works before the first `serve`. */
static void make_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	mkdir(dir, 0700);   /* an error shows up as store_open's */
}

/* Characters (not bytes) of a UTF-8 string, for lining up the table. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

static void cell(const char *s, size_t w, int last)
{
	fputs(s, stdout);
	if (last) {
		fputc('\n', stdout);
		return;
	}
	for (size_t i = width(s); i < w + 2; i++)
		fputc(' ', stdout);
}

static int cmd_list(auth *a)
{
	static const char *const head[5] = { "NAME", "DISPLAY", "ROLE", "STATUS", "CREATED" };
	char err[512], day[21];
	json_t *users = auth_user_list(a, err, sizeof err), *u;
	size_t w[5], i;

	if (!users) {
		fprintf(stderr, "frontdesk: %s\n", err);
		return 1;
	}
	if (json_array_size(users) == 0) {
		fputs("frontdesk: no accounts yet; add one with"
		      " `frontdesk user add NAME --role admin`\n", stderr);
		json_decref(users);
		return 0;
	}
	for (int c = 0; c < 5; c++)
		w[c] = strlen(head[c]);
	json_array_foreach(users, i, u) {
		size_t wn = width(json_string_value(json_object_get(u, "name")));
		size_t wd = width(json_string_value(json_object_get(u, "display")));
		w[0] = wn > w[0] ? wn : w[0];
		w[1] = wd > w[1] ? wd : w[1];
	}
	w[2] = 5;                 /* "staff", "admin" */
	w[3] = strlen("disabled");
	for (int c = 0; c < 5; c++)
		cell(head[c], w[c], c == 4);
	json_array_foreach(users, i, u) {
		util_iso8601(json_integer_value(json_object_get(u, "created_at")), day);
		day[10] = '\0';   /* the date part */
		cell(json_string_value(json_object_get(u, "name")), w[0], 0);
		cell(json_string_value(json_object_get(u, "display")), w[1], 0);
		cell(json_string_value(json_object_get(u, "role")), w[2], 0);
		cell(json_is_true(json_object_get(u, "disabled")) ? "disabled" : "enabled", w[3], 0);
		cell(day, w[4], 1);
	}
	json_decref(users);
	return 0;
}

static void warn_if_no_admin(auth *a)
{
	if (auth_admin_count(a) == 0)
		fputs("frontdesk: warning: no enabled admin account is left\n", stderr);
}

/* add and password: the name is checked before the password is asked. */
static int cmd_set(auth *a, int add, const char *name, const char *display, auth_role role)
{
	char pw[AUTH_PASSWORD_MAX + 3], err[512];
	auth_user u;
	int rc = 1, found;

	if (add && auth_name_check(name, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		return 1;
	}
	found = auth_user_get(a, name, &u, err, sizeof err);
	if (found < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		return 1;
	}
	if (add && found == 0) {
		fprintf(stderr, "frontdesk: user %s exists\n", name);
		return 1;
	}
	if (!add && found == 1) {
		fprintf(stderr, "frontdesk: no user %s\n", name);
		return 1;
	}
	if (read_new_password(name, pw, sizeof pw, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (add) {
		if (auth_user_add(a, name, display, role, pw, err, sizeof err) < 0) {
			fprintf(stderr, "frontdesk: %s\n", err);
			goto out;
		}
		fprintf(stderr, "frontdesk: added %s %s, shown to patients as \"%s\"\n",
			auth_role_name(role), name, display ? display : name);
	} else {
		found = auth_user_set_password(a, name, pw, err, sizeof err);
		if (found != 0) {
			fprintf(stderr, "frontdesk: %s\n", found == 1 ? "no such user" : err);
			goto out;
		}
		fprintf(stderr, "frontdesk: password of %s changed; their sessions have ended\n", name);
	}
	rc = 0;
out:
	explicit_bzero(pw, sizeof pw);
	return rc;
}

static int cmd_disable(auth *a, const char *name, int disabled)
{
	char err[512];
	switch (auth_user_disable(a, name, disabled, err, sizeof err)) {
	case 0:
		if (disabled) {
			fprintf(stderr, "frontdesk: user %s disabled; their sessions have ended\n", name);
			warn_if_no_admin(a);
		} else {
			fprintf(stderr, "frontdesk: user %s enabled\n", name);
		}
		return 0;
	case 1:
		fprintf(stderr, "frontdesk: no user %s\n", name);
		return 1;
	default:
		fprintf(stderr, "frontdesk: %s\n", err);
		return 1;
	}
}

int usercli_main(int argc, char **argv, const char *default_db)
{
	const char *db = default_db, *sub, *role_s = NULL, *display = NULL, *name = NULL;
	int npos = 0, rc = 1, add, list;
	auth_role role = (auth_role)0;
	store *st = NULL;
	auth *a = NULL;
	char err[512];

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	sub = argv[1];
	add = strcmp(sub, "add") == 0;
	list = strcmp(sub, "list") == 0;
	if (!add && !list && strcmp(sub, "disable") != 0 && strcmp(sub, "enable") != 0 &&
	    strcmp(sub, "password") != 0) {
		fprintf(stderr, "frontdesk user: unknown command %s\n", sub);
		usage(stderr);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = strcmp(o, "--db") == 0 || (add && (strcmp(o, "--role") == 0 ||
							     strcmp(o, "--display") == 0));
		if (takes && !v) {
			fprintf(stderr, "frontdesk user %s: %s needs a value\n", sub, o);
			return 2;
		}
		if (strcmp(o, "--db") == 0)
			db = v;
		else if (takes && strcmp(o, "--role") == 0)
			role_s = v;
		else if (takes)
			display = v;
		else if (o[0] == '-' && o[1] != '\0') {
			fprintf(stderr, "frontdesk user %s: unknown option %s\n", sub, o);
			usage(stderr);
			return 2;
		} else {
			if (npos++ == 0)
				name = o;
			continue;
		}
		i++;
	}
	if (npos != (list ? 0 : 1)) {
		if (npos > 1 && (add || strcmp(sub, "password") == 0))
			fprintf(stderr, "frontdesk user %s: a password is never an argument (ps and shell"
				" history would show it); type it when asked, or give it on stdin\n", sub);
		else
			fprintf(stderr, "frontdesk user %s: %s\n", sub,
				list ? "takes no name" : npos ? "one name only" : "which user?");
		return 2;
	}
	if (add && !(role = auth_role_parse(role_s))) {
		fprintf(stderr, "frontdesk user add: --role staff or --role admin\n");
		return 2;
	}
	if (add)
		make_parent_dir(db);
	else if (strcmp(db, ":memory:") != 0 && access(db, F_OK) != 0) {
		fprintf(stderr, "frontdesk: no database at %s\n", db);
		return 1;
	}
	if (store_open(db, &st, err, sizeof err) < 0 || auth_open(st, 0, &a, err, sizeof err) < 0) {
		fprintf(stderr, "frontdesk: %s\n", err);
		goto out;
	}
	if (list)
		rc = cmd_list(a);
	else if (add || strcmp(sub, "password") == 0)
		rc = cmd_set(a, add, name, display, role);
	else
		rc = cmd_disable(a, name, strcmp(sub, "disable") == 0);
out:
	auth_close(a);
	store_close(st);
	return rc;
}
