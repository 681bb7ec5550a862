"""The tools that read finished runs: ``catalog`` (``ls``, ``compare``), ``tables`` (a run as
DataFrames), ``report`` and ``render`` (the HTML report and its Markdown twin), ``tracking``
(MLflow export) and ``shipped`` (the configs that come with the project)."""
