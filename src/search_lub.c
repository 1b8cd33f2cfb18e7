/* The reference's `--lub` text file (numpy.savetxt of the L x 2 matrix of
 * (a, b), one row per prunable layer), to and from caller buffers. */
#include "picpq_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Check the net and n; count the prunable layers. */
static picpq_status prunable_count(const picpq_net *net, int64_t n, int32_t *count)
{
    int32_t l, nl = picpq_net_num_layers(net), c = 0;
    if (n != nl)
        return picpq__fail(PICPQ_E_SHAPE, "n = %lld, the net has %d layers", (long long)n, (int)nl);
    for (l = 0; l < nl; l++) {
        int p = 0;
        picpq_status st = picpq_net_is_prunable(net, l, &p);
        if (st != PICPQ_OK) return st;
        c += p != 0;
    }
    if (c == 0) return picpq__fail(PICPQ_E_INVALID_ARG, "net has no prunable layer");
    *count = c;
    return PICPQ_OK;
}

static int is_prunable(const picpq_net *net, int32_t l)
{
    int p = 0;
    return picpq_net_is_prunable(net, l, &p) == PICPQ_OK && p;
}

picpq_status picpq_lub_write(const picpq_net *net, const double *a, const double *b, int64_t n,
                             char *text, size_t cap, size_t *needed)
{
    picpq_status st;
    int32_t l, count;
    size_t total = 1, pos = 0;
    char row[64];
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    PICPQ__REQUIRE(needed, "needed");
    if ((st = prunable_count(net, n, &count)) != PICPQ_OK) return st;
    for (l = 0; l < (int32_t)n; l++) {
        if (!is_prunable(net, l)) continue;
        if (!isfinite(a[l]) || !isfinite(b[l]))
            return picpq__fail(PICPQ_E_NONFINITE, "layer %d: (a, b) = (%g, %g) is not finite",
                               (int)l, a[l], b[l]);
        total += (size_t)snprintf(row, sizeof row, "%.17g %.17g\n", a[l], b[l]);
    }
    *needed = total;
    if (text == NULL) return PICPQ_OK;
    if (cap < total)
        return picpq__fail(PICPQ_E_BUFFER, "cap = %zu bytes, the text needs %zu", cap, total);
    for (l = 0; l < (int32_t)n; l++) {
        if (!is_prunable(net, l)) continue;
        pos += (size_t)snprintf(text + pos, cap - pos, "%.17g %.17g\n", a[l], b[l]);
    }
    text[pos] = '\0';
    return PICPQ_OK;
}

/* A cursor over text that need not be NUL-terminated. */
typedef struct cursor {
    const char *p, *end;
    int64_t line; /* 1-based */
} cursor;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Parse one number token at c->p; 0 on a malformed or non-finite token. */
static int parse_number(cursor *c, double *v)
{
    char tok[64], *endp;
    size_t n = 0;
    while (c->p < c->end && !is_blank(*c->p) && *c->p != '\n') {
        if (n + 1 >= sizeof tok) return 0;
        tok[n++] = *c->p++;
    }
    tok[n] = '\0';
    if (n == 0) return 0;
    *v = strtod(tok, &endp);
    return *endp == '\0' && isfinite(*v);
}

static void skip_blanks(cursor *c)
{
    while (c->p < c->end && is_blank(*c->p)) c->p++;
}

/* Parse the whole text; with `write`, store the rows into a and b. */
static picpq_status parse_rows(const picpq_net *net, cursor c, int32_t count, double *a, double *b,
                               int write)
{
    int32_t row = 0, l = -1;
    while (c.p < c.end) {
        double va, vb;
        skip_blanks(&c);
        if (c.p < c.end && *c.p == '#')
            while (c.p < c.end && *c.p != '\n') c.p++;
        if (c.p == c.end || *c.p == '\n') {
            c.p += c.p < c.end;
            c.line++;
            continue;
        }
        if (row == count)
            return picpq__fail(PICPQ_E_FORMAT, "lub line %lld: more than %d rows",
                               (long long)c.line, (int)count);
        if (!parse_number(&c, &va) || (skip_blanks(&c), !parse_number(&c, &vb)))
            return picpq__fail(PICPQ_E_FORMAT, "lub line %lld: expected two finite numbers \"a b\"",
                               (long long)c.line);
        skip_blanks(&c);
        if (c.p < c.end && *c.p == '#')
            while (c.p < c.end && *c.p != '\n') c.p++;
        if (c.p < c.end && *c.p != '\n')
            return picpq__fail(PICPQ_E_FORMAT, "lub line %lld: more than two numbers",
                               (long long)c.line);
        if (write) {
            do l++;
            while (!is_prunable(net, l));
            a[l] = va;
            b[l] = vb;
        }
        row++;
    }
    if (row != count)
        return picpq__fail(PICPQ_E_FORMAT, "lub: %d rows, the net has %d prunable layers", (int)row,
                           (int)count);
    return PICPQ_OK;
}

picpq_status picpq_lub_read(const picpq_net *net, const char *text, size_t len, double *a,
                            double *b, int64_t n)
{
    picpq_status st;
    int32_t count, l;
    cursor c;
    const char *nul;
    picpq__clear_error();
    PICPQ__REQUIRE(net, "net");
    PICPQ__REQUIRE(text, "text");
    PICPQ__REQUIRE(a, "a");
    PICPQ__REQUIRE(b, "b");
    if ((st = prunable_count(net, n, &count)) != PICPQ_OK) return st;
    /* strtod and the token copy stop at a NUL, which would silently drop the
     * rest of a token ("1.5\0garbage" read as 1.5): no NUL is text */
    if (len > 0 && (nul = memchr(text, '\0', len)) != NULL) {
        int64_t line = 1;
        const char *q;
        for (q = text; q < nul; q++) line += *q == '\n';
        return picpq__fail(PICPQ_E_FORMAT, "lub line %lld: NUL byte at offset %zu", (long long)line,
                           (size_t)(nul - text));
    }
    c.p = text;
    c.end = text + len;
    c.line = 1;
    /* validate everything first so that a and b stay untouched on error */
    if ((st = parse_rows(net, c, count, a, b, 0)) != PICPQ_OK) return st;
    for (l = 0; l < (int32_t)n; l++) {
        a[l] = 1.0;
        b[l] = 0.0;
    }
    return parse_rows(net, c, count, a, b, 1);
}
