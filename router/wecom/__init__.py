"""WeCom (企业微信): the join-way group provider, its API client and its callbacks."""
