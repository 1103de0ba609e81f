/* The command-line front end: parses argv, drives the lower layers and turns
 * their errors into messages and exit statuses. The only layer that prints
 * errors or decides the process exit status. */
#ifndef MINNOW_API_CLI_H
#define MINNOW_API_CLI_H

/* Exit statuses of the minnow process. */
enum cli_exit {
    CLI_EXIT_OK = 0,     /* guest powered off / program passed */
    CLI_EXIT_FAIL = 1,   /* the program reported failure (tohost or syscon code) */
    CLI_EXIT_USAGE = 2,  /* bad command line */
    CLI_EXIT_ERROR = 3,  /* monitor error, or the hart crashed / hung (state report on stderr) */
};

int cli_main(int argc, char **argv);

#endif
