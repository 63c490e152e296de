"""Every SQL statement Huoma runs, named, with bind parameters, one module per area; no SQL
lives outside this package (but the two statements that set up the embedded server's role and
database, in router.store.db). Callers use `from router.store import sql` and `sql.NAME`."""

from router.store.sql.accounts import *  # noqa: F403
from router.store.sql.audit import *  # noqa: F403
from router.store.sql.brand import *  # noqa: F403
from router.store.sql.catalogue import *  # noqa: F403
from router.store.sql.console import *  # noqa: F403
from router.store.sql.events import *  # noqa: F403
from router.store.sql.exports import *  # noqa: F403
from router.store.sql.funnel import *  # noqa: F403
from router.store.sql.imports import *  # noqa: F403
from router.store.sql.keeper import *  # noqa: F403
from router.store.sql.leases import *  # noqa: F403
from router.store.sql.locks import *  # noqa: F403
from router.store.sql.migrations import *  # noqa: F403
from router.store.sql.opsettings import *  # noqa: F403
from router.store.sql.pictures import *  # noqa: F403
from router.store.sql.qr_images import *  # noqa: F403
from router.store.sql.store_links import *  # noqa: F403
from router.store.sql.upload_review import *  # noqa: F403
from router.store.sql.wecom import *  # noqa: F403
