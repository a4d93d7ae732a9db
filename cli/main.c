// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* xwan: the command line (the commands are in cli/commands.c's table). */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
