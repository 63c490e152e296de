"""WeCom (企业微信): its API client, callback crypto, join-way sync, the callback receiver and its
URL (the join-way group provider is router.keeper.wecom_provider)."""
