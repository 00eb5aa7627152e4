# Building the module against an nginx source tree.
#
# Debian's nginx-dev ships the sources /usr/sbin/nginx was built from and
# its configure flags (conf_flags); the tree is copied (it is read-only)
# and configured with those flags so that the module's binary signature
# matches the stock nginx and load_module accepts it.

NGX_SRC_COPY = $(NGX_BUILD)/src-tree
# our own code is built with -Werror; nginx's headers are clean with it
NGX_CC_OPT   = -g -O2 -fPIC -Werror -Wno-unused-parameter $(SAN_FLAGS)
NGX_LD_OPT   = $(SAN_FLAGS)
MODULE_DEPS  = config $(wildcard ngx_module/*.c ngx_module/*.h src/cs_*.c src/cs_*.h)
# the console's files, made into C by configure (config) and again here
# when one of them changes
CONSOLE_FILES  = $(wildcard ngx_module/console/*)
CONSOLE_ASSETS = $(NGX_SRC_COPY)/objs/ngx_http_caresync_console_assets.c

module: $(MODULE)

# configure captures the list of sources: redo it when that list changes
NGX_SRC_LIST = $(NGX_BUILD)/sources
$(shell mkdir -p $(NGX_BUILD); l='$(sort $(wildcard src/cs_*.c ngx_module/*.c))'; \
    [ "$$l" = "$$(cat $(NGX_SRC_LIST) 2>/dev/null)" ] || echo "$$l" > $(NGX_SRC_LIST))

$(NGX_SRC_COPY)/objs/Makefile: config $(NGX_SRC_LIST)
	@rm -rf $(NGX_SRC_COPY) && mkdir -p $(NGX_BUILD)
	cp -a $(NGINX_SRC)/. $(NGX_SRC_COPY)
	chmod -R u+w $(NGX_SRC_COPY)
	cd $(NGX_SRC_COPY) && \
	  if [ -f conf_flags ]; then . ./conf_flags; \
	  else NGX_CONF_FLAGS=(--with-compat); fi; \
	  ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt='$(NGX_CC_OPT)' --with-ld-opt='$(NGX_LD_OPT)' \
	    --add-dynamic-module=$(CURDIR) > ../configure.log 2>&1 \
	  || { tail -30 ../configure.log; exit 1; }

$(CONSOLE_ASSETS): $(CONSOLE_FILES) $(NGX_SRC_COPY)/objs/Makefile
	perl ngx_module/console/embed ngx_module/console > $@.tmp
	mv -f $@.tmp $@

$(MODULE): $(NGX_SRC_COPY)/objs/Makefile $(MODULE_DEPS) $(CONSOLE_ASSETS)
	$(MAKE) -C $(NGX_SRC_COPY) -f objs/Makefile modules
	cp $(NGX_SRC_COPY)/objs/ngx_http_caresync_module.so $@.tmp && mv -f $@.tmp $@
