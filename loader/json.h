/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The bits of JSON the views write by hand (status, the agent's web API). */
#ifndef XWAN_JSON_H
#define XWAN_JSON_H

#include <stdio.h>

/* s as a JSON string, quotes included; control bytes escaped, the rest as is (UTF-8). */
void xwan_json_str(FILE *out, const char *s);

#endif /* XWAN_JSON_H */
