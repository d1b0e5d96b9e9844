from tests.dossiers.conftest import event, receive  # noqa: F401  (dossiers for complaints and ratings to name)
