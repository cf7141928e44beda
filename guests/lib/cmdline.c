/* Command line: space-separated words, parameters are key=value. */
#include "kit.h"

const char *parse_u64(const char *s, u64 *out)
{
    u64 v = 0;
    const char *start;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        start = s;
        for (;; s++) {
            char c = *s;
            if (c >= '0' && c <= '9')
                v = v * 16 + (u64)(c - '0');
            else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
                v = v * 16 + (u64)((c | 0x20) - 'a' + 10);
            else
                break;
        }
    } else {
        start = s;
        for (; *s >= '0' && *s <= '9'; s++)
            v = v * 10 + (u64)(*s - '0');
    }
    if (s == start)
        return NULL;
    switch (*s) {
    case 'k': case 'K': v <<= 10; s++; break;
    case 'm': case 'M': v <<= 20; s++; break;
    case 'g': case 'G': v <<= 30; s++; break;
    }
    *out = v;
    return s;
}

bool cmdline_get(const char *key, int n, char *buf, size_t size)
{
    size_t klen = strlen(key);
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if ((size_t)(p - w) > klen && !strncmp(w, key, klen) && w[klen] == '=' && n-- == 0) {
            const char *v = w + klen + 1;
            size_t len = (size_t)(p - v);
            if (len >= size)
                len = size - 1;
            memcpy(buf, v, len);
            buf[len] = 0;
            return true;
        }
    }
    return false;
}

u64 cmdline_u64(const char *key, u64 dflt)
{
    char buf[32];
    u64 v;
    if (!cmdline_get(key, 0, buf, sizeof buf))
        return dflt;
    const char *end = parse_u64(buf, &v);
    if (!end || *end)
        fail("bad number in %s=%s", key, buf);
    return v;
}
