# Export the datasets bundled with bayesmixed as CSV (exact numeric round trip).
# Usage (from the repository root):  Rscript tests/reference/export_datasets.R
suppressPackageStartupMessages({
  library(lme4)
  library(nlme)
})
source(file.path("tests", "reference", "helpers.R"))

out_dir <- file.path("bayesmixed", "datasets")
dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)

plain_df <- function(x) {
  x <- as.data.frame(x)
  attr(x, "formula") <- NULL
  attr(x, "labels") <- NULL
  attr(x, "units") <- NULL
  attr(x, "outer") <- NULL
  attr(x, "inner") <- NULL
  attr(x, "FUN") <- NULL
  attr(x, "order.groups") <- NULL
  class(x) <- "data.frame"
  for (j in seq_along(x)) {
    if (is.factor(x[[j]])) x[[j]] <- as.character(x[[j]])
  }
  x
}

datasets <- list(
  sleepstudy = lme4::sleepstudy,
  Penicillin = lme4::Penicillin,
  Pastes = lme4::Pastes,
  Dyestuff = lme4::Dyestuff,
  Dyestuff2 = lme4::Dyestuff2,
  Orthodont = nlme::Orthodont,
  BodyWeight = nlme::BodyWeight
)

for (nm in names(datasets)) {
  df <- plain_df(datasets[[nm]])
  path <- file.path(out_dir, paste0(nm, ".csv"))
  write_csv_exact(df, path)
  cat(sprintf("%-11s %4d rows  columns: %s -> %s\n", nm, nrow(df),
              paste(names(df), collapse = ", "), path))
}
