/*
 * caresync core: a bump arena for jansson (see cs_json_arena.h).
 */

#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "cs_json_arena.h"

/* ample for webhook bodies of a few kilobytes; more spills */
#define CS_ARENA_SIZE  (256 * 1024)
#define CS_ARENA_ALIGN 16

static _Alignas(CS_ARENA_ALIGN) unsigned char  cs_arena[CS_ARENA_SIZE];
static size_t                                  cs_arena_used;
static int                                     cs_arena_on;
static int                                     cs_arena_spilled;
static int                                     cs_arena_hooked;


static int
cs_arena_owns(const void *p)
{
    uintptr_t  a = (uintptr_t) p, base = (uintptr_t) cs_arena;

    return a >= base && a < base + CS_ARENA_SIZE;
}


static void *
cs_arena_malloc(size_t n)
{
    size_t  need;

    if (cs_arena_on) {
        need = (n + CS_ARENA_ALIGN - 1) & ~(size_t) (CS_ARENA_ALIGN - 1);

        if (need <= CS_ARENA_SIZE - cs_arena_used) {
            void  *p = cs_arena + cs_arena_used;

            cs_arena_used += need;
            return p;
        }

        cs_arena_spilled = 1;
    }

    return malloc(n);
}


static void
cs_arena_free(void *p)
{
    if (!cs_arena_owns(p)) {
        free(p);
    }
}


void
cs_json_arena_begin(void)
{
    if (!cs_arena_hooked) {
        json_set_alloc_funcs(cs_arena_malloc, cs_arena_free);
        cs_arena_hooked = 1;
    }

    cs_arena_used = 0;
    cs_arena_spilled = 0;
    cs_arena_on = 1;
}


int
cs_json_arena_end(void)
{
    cs_arena_on = 0;
    cs_arena_used = 0;

    return cs_arena_spilled;
}
