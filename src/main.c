/* Process entry point: everything is in the CLI layer. */
#include "api/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}
