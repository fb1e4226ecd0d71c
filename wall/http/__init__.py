"""What every HTTP request goes through, whatever route it reaches.

- ``params``: whole numbers from the query string and the path, bounded to SQLite's int64.
- ``body``: the request body limit (while reading), content types, the JSON body reader.
- ``hosts``: the Host allow-list (no DNS rebinding) and the origins that count as ours.
- ``headers``: CSP, nosniff, Referrer-Policy (and HSTS over https) on every response.
- ``static``: ``/static/...``, an allow-list of front-end files, vendored npm files included.
"""
