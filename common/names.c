/* names.c - contact id -> audio file name; see names.h for the rule and why it is safe.
 *
 * The plain-name test is a byte loop, not a locale-dependent isalnum(): the rule is about bytes,
 * and a locale must never change which file a job writes. */
#include "names.h"

#include <string.h>

#include "sha256.h"

static bool names_plain_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

bool names_is_plain(const char *contact, size_t len)
{
    if (len == 0 || len > NAMES_PLAIN_MAX)
        return false;
    if ((len == 1 && contact[0] == '.') || (len == 2 && contact[0] == '.' && contact[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!names_plain_byte((unsigned char)contact[i]))
            return false;
    return true;
}

void names_for_contact(const char *contact, size_t len, char out[NAMES_MAX])
{
    if (names_is_plain(contact, len)) {
        memcpy(out, contact, len);
        out[len] = '\0';
        return;
    }
    size_t plen = sizeof NAMES_DIGEST_PREFIX - 1;
    memcpy(out, NAMES_DIGEST_PREFIX, plen);
    sha256_hex(contact, len, out + plen);
}

bool names_campaign_valid(const char *campaign)
{
    if (!campaign)
        return false;
    size_t n = 0;
    for (; campaign[n]; n++) {
        unsigned char c = (unsigned char)campaign[n];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= NAMES_CAMPAIGN_MAX)
            return false;
    }
    return n > 0 && strcmp(campaign, ".") != 0 && strcmp(campaign, "..") != 0;
}
