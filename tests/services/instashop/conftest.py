from tests.instashop_fixtures import (  # noqa: F401  (fixtures, found where imported)
    ig_config,
    ig_sim,
    ig_stand,
    instagram,
    media_store,
)
