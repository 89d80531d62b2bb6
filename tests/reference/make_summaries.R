# Print R's summary() of every fixture model, for the text-layout tests (tests/test_summary.py).
#
# Usage (from the repository root, after make_fixtures.R):
#   Rscript tests/reference/make_summaries.R
#
# Writes tests/reference/summaries/<case>.txt: the printed summary(lmerTest::lmer(...)) or
# summary(lm(...)) of each fixture, fitted to the same data with the same control settings as
# the fixture (read from the fixture JSON).
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
options(width = 80)

ref_dir <- file.path("tests", "reference")
out_dir <- file.path(ref_dir, "summaries")
dir.create(out_dir, showWarnings = FALSE)

chr_cols <- list(
  sleep_period = c("Subject", "period"),
  sleep9 = "Subject",
  sim_three_level = c("sector", "school", "class"),
  sim_crossed = c("group", "subject", "item"),
  sim_unbalanced = "g"
)
bundled <- list(
  sleepstudy = lme4::sleepstudy, Penicillin = lme4::Penicillin, Pastes = lme4::Pastes,
  Dyestuff = lme4::Dyestuff, Dyestuff2 = lme4::Dyestuff2
)
get_data <- function(name) {
  if (!is.null(bundled[[name]])) return(bundled[[name]])
  path <- file.path(ref_dir, "data", paste0(name, ".csv"))
  hdr <- names(read.csv(path, nrows = 1, check.names = FALSE))
  cc <- ifelse(hdr %in% chr_cols[[name]], "character", NA)
  read.csv(path, stringsAsFactors = FALSE, colClasses = cc, check.names = FALSE)
}

for (path in sort(list.files(file.path(ref_dir, "fixtures"), full.names = TRUE))) {
  fx <- fromJSON(path, simplifyVector = FALSE)
  if (is.null(fx$kind) || !(fx$kind %in% c("lmer", "lm"))) next
  data <- get_data(fx$data)
  fml <- as.formula(fx$formula)
  if (fx$kind == "lmer") {
    oc <- fx$control$optCtrl
    ctrl <- lmerControl(optimizer = fx$control$optimizer, optCtrl = oc)
    m <- suppressMessages(suppressWarnings(
      lmerTest::lmer(fml, data = data, REML = isTRUE(fx$REML), control = ctrl)))
  } else {
    m <- lm(fml, data = data)
  }
  txt <- capture.output(print(summary(m)), type = "output")
  writeLines(txt, file.path(out_dir, paste0(fx$case, ".txt")))
  cat(fx$case, "\n")
}
