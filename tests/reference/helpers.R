# Shared helpers for the reference scripts (sourced by export_datasets.R and
# make_fixtures.R). Run everything from the repository root.

# Shortest decimal representation (15, 16 or 17 significant digits) that
# parses back to exactly the same double.
format_exact <- function(x) {
  if (is.integer(x)) return(ifelse(is.na(x), NA_character_, as.character(x)))
  out <- rep(NA_character_, length(x))
  todo <- !is.na(x)
  for (d in 15:17) {
    if (!any(todo)) break
    s <- sprintf(paste0("%.", d, "g"), x[todo])
    ok <- as.numeric(s) == x[todo]
    if (d == 17) ok[] <- TRUE
    idx <- which(todo)[ok]
    out[idx] <- s[ok]
    todo[idx] <- FALSE
  }
  stopifnot(all(is.na(x) | as.numeric(out) == x))
  out
}

# Write a data.frame as CSV with exact numeric round-tripping. Factors become
# plain strings; string columns are quoted, numeric columns are not.
write_csv_exact <- function(df, path) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  is_chr <- vapply(df, function(col) is.factor(col) || is.character(col), logical(1))
  for (j in seq_along(df)) {
    col <- df[[j]]
    if (is.factor(col)) {
      df[[j]] <- as.character(col)
    } else if (is.logical(col)) {
      df[[j]] <- ifelse(col, "TRUE", "FALSE")
    } else if (is.numeric(col)) {
      df[[j]] <- format_exact(unclass(col))
    }
  }
  dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
  write.csv(df, path, row.names = FALSE, quote = which(is_chr), na = "NA")
  # verify the round trip
  back <- read.csv(path, stringsAsFactors = FALSE,
                   colClasses = ifelse(is_chr, "character", NA))
  for (j in seq_along(df)) {
    if (!is_chr[j]) stopifnot(identical(as.numeric(back[[j]]), as.numeric(df[[j]])))
    else stopifnot(identical(back[[j]], df[[j]]))
  }
  invisible(path)
}
