// segadmin's own JavaScript: only what htmx cannot do. Loaded from static files, never inline.
"use strict";
