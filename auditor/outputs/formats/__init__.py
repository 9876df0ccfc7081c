"""One module per report format, each a `auditor.outputs.base.Format`; registered in auditor.outputs."""
