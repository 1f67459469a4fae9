/* usercli: the `frontdesk user ...` commands (add, list, disable, enable,
 * password) that manage staff and admin accounts on a database file.
 * Passwords are read from the terminal (echo off, asked twice) or, when
 * stdin is not a terminal, as one line of stdin; never from arguments. */
#ifndef FD_USERCLI_H
#define FD_USERCLI_H

/* argv[0] is "user"; argv is borrowed (its order may change). default_db:
 * the database when there is no --db. Returns the process exit code: 0 done,
 * 1 refused or failed (one line on stderr), 2 usage error. */
int usercli_main(int argc, char **argv, const char *default_db);

#endif
