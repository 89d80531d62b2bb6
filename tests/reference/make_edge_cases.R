# Reference values for tests/reml/test_edge_cases.py: numerical edge cases of the REML/ML fit.
# Simulates (fixed seeds) and writes tests/reference/data/edge_*.csv, fits each case by REML and
# ML and writes tests/reference/fixtures/edge_cases.json:
#   - Dyestuff2 (lme4): the between-batch variance is estimated as exactly 0;
#   - edge_correlation: intercept and slope correlation estimated at +1 (y_pos) and -1 (y_neg),
#     8 groups of 6 (seeds picked so that lme4 ends on the boundary);
#   - edge_collinear: x2 = x1 + 1e-5·z (nearly collinear: lme4 fits, SEs ~ 7000) and
#     x3 = x1 + 1e-9·z (below lme4's rank tolerance 1e-7: lme4 drops x3 with a message);
#   - edge_size1: 20 clusters of one row and 20 of 15;
#   - edge_unbalanced: one cluster of 500 rows and 30 of 1-2 rows;
#   - edge_balanced: 20 clusters of 10, the same x in each.
# Fits use minqa's bobyqa with rhoend = 1e-12 (as make_formula_zoo.R).
# Run from the repository root: Rscript tests/reference/make_edge_cases.R
suppressMessages({
  library(lmerTest)
  library(jsonlite)
})
source("tests/reference/helpers.R")
data_dir <- "tests/reference/data"

sim_correlation <- function() {
  ng <- 8; m <- 6
  gi <- rep(seq_len(ng), each = m)
  x <- rep(0:(m - 1), ng)
  y_for <- function(seed) {
    set.seed(seed)
    u <- rnorm(ng, 0, 1)
    round(5 + u[gi] + (0.3 + 0.4 * u[gi]) * x + rnorm(ng * m, 0, 1.5), 4)
  }
  data.frame(y_pos = y_for(6), y_neg = y_for(1), x = x, g = sprintf("g%02d", gi))
}

sim_collinear <- function() {
  set.seed(11)
  ng <- 20; m <- 10
  gi <- rep(seq_len(ng), each = m)
  x1 <- round(rnorm(ng * m), 4)
  z <- rnorm(ng * m)
  y <- round(1 + x1 + rnorm(ng)[gi] + rnorm(ng * m), 4)
  data.frame(y = y, x1 = x1, x2 = x1 + 1e-5 * z, x3 = x1 + 1e-9 * z, g = sprintf("g%02d", gi))
}

sim_sizes <- function(sizes, seed) {
  set.seed(seed)
  ng <- length(sizes)
  gi <- rep(seq_len(ng), times = sizes)
  n <- length(gi)
  u0 <- rnorm(ng, 0, 1.5)
  u1 <- rnorm(ng, 0, 0.4)
  x <- round(rnorm(n, 1, 1), 4)
  y <- round(3 + (0.8 + u1[gi]) * x + u0[gi] + rnorm(n), 4)
  data.frame(y = y, x = x, g = sprintf("g%02d", gi))
}

sim_balanced <- function() {
  set.seed(5)
  ng <- 20; m <- 10
  gi <- rep(seq_len(ng), each = m)
  x <- rep(seq(0, 1.8, by = 0.2), ng)
  y <- round(2 + (1 + rnorm(ng, 0, 0.5)[gi]) * x + rnorm(ng)[gi] + rnorm(ng * m, 0, 0.7), 4)
  data.frame(y = y, x = x, g = sprintf("g%02d", gi))
}

set.seed(2)
datasets <- list(
  edge_correlation = sim_correlation(),
  edge_collinear = sim_collinear(),
  edge_size1 = sim_sizes(sample(c(rep(1, 20), rep(15, 20))), 3),
  edge_unbalanced = sim_sizes(sample(c(500, sample(1:2, 30, replace = TRUE))), 4),
  edge_balanced = sim_balanced()
)
for (nm in names(datasets)) {
  write_csv_exact(datasets[[nm]], file.path(data_dir, paste0(nm, ".csv")))
  # fit to the data as read back (string columns as character: sorted factor levels)
  datasets[[nm]] <- read.csv(file.path(data_dir, paste0(nm, ".csv")), stringsAsFactors = TRUE)
}
datasets$Dyestuff2 <- Dyestuff2

cases <- list(
  c("Dyestuff2", "Yield ~ 1 + (1 | Batch)"),
  c("edge_correlation", "y_pos ~ x + (x | g)"),
  c("edge_correlation", "y_neg ~ x + (x | g)"),
  c("edge_collinear", "y ~ x1 + x2 + (1 | g)"),
  c("edge_collinear", "y ~ x1 + x3 + (1 | g)"),
  c("edge_size1", "y ~ x + (x | g)"),
  c("edge_unbalanced", "y ~ x + (1 | g)"),
  c("edge_unbalanced", "y ~ x + (x | g)"),
  c("edge_balanced", "y ~ x + (x | g)")
)
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
out <- list()
for (cs in cases) for (reml in c(TRUE, FALSE)) {
  msgs <- character(); warns <- character()
  m <- withCallingHandlers(
    lmer(as.formula(cs[2]), datasets[[cs[1]]], REML = reml, control = ctrl),
    message = function(e) { msgs <<- c(msgs, conditionMessage(e)); invokeRestart("muffleMessage") },
    warning = function(e) { warns <<- c(warns, conditionMessage(e)); invokeRestart("muffleWarning") }
  )
  s <- summary(m)$coefficients
  vc <- as.data.frame(VarCorr(m))
  out[[length(out) + 1]] <- list(
    data = cs[1], formula = cs[2], REML = reml, logLik = as.numeric(logLik(m)),
    term = rownames(s), estimate = unname(s[, "Estimate"]),
    std_error = unname(s[, "Std. Error"]), df = unname(s[, "df"]),
    sdcor = vc$sdcor, theta = unname(getME(m, "theta")), singular = isSingular(m),
    dropped = as.list(attr(getME(m, "X"), "col.dropped")),
    messages = as.list(sub("\n$", "", msgs)), warnings = as.list(warns)
  )
  cat(sprintf("%-18s %-24s REML=%-5s logLik=%.4f singular=%s msgs=%d warns=%d\n",
              cs[1], cs[2], reml, logLik(m), isSingular(m), length(msgs), length(warns)))
}
meta <- list(
  kind = "edge_cases", R = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")), fits = out
)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/fixtures/edge_cases.json")
