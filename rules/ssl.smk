# The ssl family (placeholder).
SSL_TARGETS = []
