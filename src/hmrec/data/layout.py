"""The prepared folder's layout: its name inside the data folder and its files (``ingest`` writes
them, ``dataset.Dataset`` reads them)."""

PREPARED_DIRNAME = "prepared"
MANIFEST = "manifest.json"
PREPARED_FILES = {
    "transactions": "transactions.parquet",
    "customers": "customers.parquet",
    "articles": "articles.parquet",
    "customer_map": "customer_map.parquet",
    "article_map": "article_map.parquet",
    "submission_order": "submission_order.parquet",
}
