/* The rule for names that end up in file names (see names.h). */
#include "common/names.h"

#include <stddef.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

static int name_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '.';
}

const char *sl_name_problem(const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0)
        return "is empty";
    if (len > SL_NAME_MAX)
        return "is longer than " STR(SL_NAME_MAX) " bytes";
    for (size_t i = 0; i < len; i++) {
        if (!name_char_ok((unsigned char)name[i]) || name[0] == '.' || name[0] == '-')
            return "may only use letters, digits, '_', '-' and '.' (and starts with a letter, "
                   "digit or '_')";
    }
    if (strstr(name, "..") != NULL)
        return "may not contain '..'";
    return NULL;
}

int sl_name_valid(const char *name)
{
    return sl_name_problem(name) == NULL;
}
