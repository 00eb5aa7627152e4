/*
 * caresync core: a bump arena for the JSON tree of one request.
 *
 * jansson allocates a block per value and frees them one by one; the
 * tree of an inbound body lives exactly as long as cs_ingest(), so its
 * blocks come from one reused buffer and are dropped together, without a
 * walk of the tree.  A body too large for the buffer spills to malloc():
 * then, and only then, the tree is freed the ordinary way.
 *
 * jansson's allocator is process-wide; outside an arena session the
 * hooks pass straight to malloc()/free(), so other users of jansson in
 * the process are unaffected.  Not for concurrent use from threads: the
 * nginx worker, the fuzzer and the tests call cs_ingest() from one.
 */

#ifndef CS_JSON_ARENA_H
#define CS_JSON_ARENA_H

/* Start a session (installs the hooks on first use). */
void cs_json_arena_begin(void);

/*
 * End it.  Returns 1 when some blocks spilled to malloc(): the caller
 * must then json_decref() the tree (arena blocks are skipped by free).
 */
int cs_json_arena_end(void);

#endif /* CS_JSON_ARENA_H */
