# Reference numbers for the primer's quantities: variance decomposition, ICC, R²,
# effect sizes and OLS assumption tests.
#
# Usage (from the repository root, after make_fixtures.R):
#   Rscript tests/reference/make_primer_fixtures.R
#
# Writes tests/reference/fixtures/primer_*.json (kind "primer_*"):
#   primer_variance.json    per lmer case (REML and ML): insight::get_variance components,
#                           performance::icc (also by_group), performance::r2_nakagawa, and
#                           Johnson's (2014) random-effect variance computed here by hand over
#                           *all* VarCorr terms (see the note on insight 0.19.0 below).
#   primer_effects.json     Cohen's f² (local, via the reduced model), PCV and the variance
#                           components the Python side needs for d_tau.
#   primer_assumptions.json lmtest::dwtest (exact and approximate p), lmtest::bptest
#                           (studentized) and shapiro.test on the lm cases.
#
# Note on insight 0.19.0 (used by performance 0.10.2): get_variance() sums the random-effect
# variance only over the VarCorr terms whose names appear in names(ranef(m)). lme4's ranef()
# merges terms that share a grouping factor, so for (Days || Subject) or
# (1 | Subject) + (0 + Days | Subject) the second term ("Subject.1") is silently left out of
# var.random (easystats/insight#304 describes the same symptom). The hand computation
# `johnson_*` below includes every term; bayesmixed follows it.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(performance)
  library(insight)
  library(lmtest)
  library(jsonlite)
})

ref_dir <- file.path("tests", "reference")
data_dir <- file.path(ref_dir, "data")
fix_dir <- file.path(ref_dir, "fixtures")

r_versions <- list(
  R = paste(R.version$major, R.version$minor, sep = "."),
  lme4 = as.character(packageVersion("lme4")),
  performance = as.character(packageVersion("performance")),
  insight = as.character(packageVersion("insight")),
  lmtest = as.character(packageVersion("lmtest"))
)

make_control <- function() {
  lmerControl(optimizer = "nloptwrap",
              optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-12, xtol_rel = 1e-12, maxeval = 1e5))
}

# Same data as make_fixtures.R: bundled datasets from lme4, the rest from the CSVs with their
# text columns read as character.
chr_cols <- list(
  sleep_period = c("Subject", "period"),
  sleep9 = "Subject",
  sim_three_level = c("sector", "school", "class"),
  sim_crossed = c("group", "subject", "item"),
  sim_unbalanced = "g"
)
get_data <- function(name) {
  bundled <- list(sleepstudy = lme4::sleepstudy, Penicillin = lme4::Penicillin,
                  Pastes = lme4::Pastes, Dyestuff = lme4::Dyestuff, Dyestuff2 = lme4::Dyestuff2)
  if (!is.null(bundled[[name]])) return(bundled[[name]])
  path <- file.path(data_dir, paste0(name, ".csv"))
  hdr <- names(read.csv(path, nrows = 1, check.names = FALSE))
  cc <- ifelse(hdr %in% chr_cols[[name]], "character", NA)
  read.csv(path, stringsAsFactors = FALSE, colClasses = cc, check.names = FALSE)
}

fit_lmer <- function(formula, data, REML) {
  suppressMessages(suppressWarnings(
    lme4::lmer(as.formula(formula), data = data, REML = REML, control = make_control())))
}

quietly <- function(expr) {
  out <- NULL
  utils::capture.output(out <- suppressMessages(suppressWarnings(expr)))
  out
}

na_null <- function(x) if (is.null(x) || length(x) == 0) NA else x
named <- function(x) if (is.null(x) || length(x) == 0) NA else as.list(x)

# Johnson (2014): sum over terms of mean_i z_i' Sigma_t z_i, with z_i the term's own model
# matrix row (lme4's mmList), over every VarCorr term.
johnson_terms <- function(m) {
  vc <- VarCorr(m)
  mm <- getME(m, "mmList")
  # mmList names are "expr | group"; VarCorr keeps the same order of terms
  out <- numeric(length(vc))
  names(out) <- names(vc)
  for (i in seq_along(vc)) {
    Z <- as.matrix(mm[[i]])
    S <- as.matrix(vc[[i]])
    out[i] <- mean(rowSums((Z %*% S) * Z))
  }
  out
}

variance_case <- function(fx) {
  data <- get_data(fx$data)
  m <- fit_lmer(fx$formula, data, fx$REML)
  gv <- quietly(insight::get_variance(m))
  ic <- quietly(performance::icc(m))
  icg <- if (is.null(insight::find_random_slopes(m))) quietly(performance::icc(m, by_group = TRUE))
         else NULL
  r2 <- quietly(performance::r2_nakagawa(m))
  jt <- johnson_terms(m)
  X <- getME(m, "X")
  list(
    case = fx$case, data = fx$data, formula = fx$formula, REML = fx$REML,
    singular = isSingular(m),
    sigma = sigma(m),
    var_fixed = na_null(gv$var.fixed),
    var_random = na_null(gv$var.random),
    var_residual = na_null(gv$var.residual),
    var_intercept = named(gv$var.intercept),
    var_slope = named(gv$var.slope),
    icc_adjusted = if (is.list(ic)) na_null(ic$ICC_adjusted) else NA,
    icc_unadjusted = if (is.list(ic)) na_null(ic$ICC_unadjusted) else NA,
    icc_conditional = if (is.list(ic)) na_null(ic$ICC_conditional) else NA,
    icc_by_group = if (is.data.frame(icg)) setNames(as.list(icg$ICC), icg$Group) else NA,
    r2_marginal = if (is.list(r2)) na_null(unname(r2$R2_marginal)) else NA,
    r2_conditional = if (is.list(r2)) na_null(unname(r2$R2_conditional)) else NA,
    johnson_by_term = as.list(jt),
    johnson_var_random = sum(jt),
    var_fixed_manual = var(as.vector(X %*% fixef(m)))
  )
}

cases <- list()
for (p in sort(Sys.glob(file.path(fix_dir, "*.json")))) {
  fx <- jsonlite::read_json(p)
  if (!identical(fx$kind, "lmer")) next
  cases[[fx$case]] <- variance_case(fx)
  cat(sprintf("%-30s var.random=%s johnson=%.6f\n", fx$case,
              format(cases[[fx$case]]$var_random), cases[[fx$case]]$johnson_var_random))
}

write_out <- function(obj, name) {
  jsonlite::write_json(obj, file.path(fix_dir, paste0(name, ".json")), digits = NA,
                       auto_unbox = TRUE, null = "null", na = "null", pretty = TRUE)
}
write_out(list(kind = "primer_variance", r_versions = r_versions, cases = cases),
          "primer_variance")

# ---------------------------------------------------------------------------
# Effect sizes: local f² and PCV
# ---------------------------------------------------------------------------
r2_both <- function(m) {
  r <- quietly(performance::r2_nakagawa(m))
  c(marginal = unname(r$R2_marginal), conditional = unname(r$R2_conditional))
}
f2_case <- function(name, data_name, full, reduced, term, REML = TRUE) {
  d <- get_data(data_name)
  mf <- fit_lmer(full, d, REML)
  mr <- fit_lmer(reduced, d, REML)
  rf <- r2_both(mf)
  rr <- r2_both(mr)
  jf <- johnson_terms(mf)
  jr <- johnson_terms(mr)
  vff <- var(as.vector(getME(mf, "X") %*% fixef(mf)))
  vfr <- var(as.vector(getME(mr, "X") %*% fixef(mr)))
  # the same R² from the hand-computed (all-terms) random variance
  r2j <- function(vf, jt, s2) c(marginal = vf / (vf + sum(jt) + s2),
                                conditional = (vf + sum(jt)) / (vf + sum(jt) + s2))
  rjf <- r2j(vff, jf, sigma(mf)^2)
  rjr <- r2j(vfr, jr, sigma(mr)^2)
  list(
    name = name, data = data_name, full = full, reduced = reduced, term = term, REML = REML,
    r2_full = as.list(rf), r2_reduced = as.list(rr),
    f2_marginal = unname((rf["marginal"] - rr["marginal"]) / (1 - rf["marginal"])),
    f2_conditional = unname((rf["conditional"] - rr["conditional"]) / (1 - rf["conditional"])),
    r2_full_johnson = as.list(rjf), r2_reduced_johnson = as.list(rjr),
    f2_marginal_johnson = unname((rjf["marginal"] - rjr["marginal"]) / (1 - rjf["marginal"])),
    f2_conditional_johnson =
      unname((rjf["conditional"] - rjr["conditional"]) / (1 - rjf["conditional"])),
    varcorr_full = as.data.frame(VarCorr(mf))[, c("grp", "var1", "var2", "vcov")],
    varcorr_reduced = as.data.frame(VarCorr(mr))[, c("grp", "var1", "var2", "vcov")],
    johnson_full = as.list(jf), johnson_reduced = as.list(jr)
  )
}
effects <- list(
  f2_case("sleepstudy_days", "sleepstudy", "Reaction ~ Days + (Days | Subject)",
          "Reaction ~ 1 + (Days | Subject)", "Days"),
  f2_case("three_level_z", "sim_three_level", "y ~ x + z + sector + (1 | school/class)",
          "y ~ x + sector + (1 | school/class)", "z"),
  f2_case("three_level_null", "sim_three_level", "y ~ x + z + sector + (1 | school/class)",
          "y ~ 1 + (1 | school/class)", "x + z + sector"),
  f2_case("crossed_group", "sim_crossed", "rt ~ cond + group + (1 + cond | subject) + (1 | item)",
          "rt ~ cond + (1 + cond | subject) + (1 | item)", "group"),
  f2_case("unbalanced_x_ml", "sim_unbalanced", "y ~ x + (1 | g)", "y ~ 1 + (1 | g)", "x",
          REML = FALSE)
)
names(effects) <- vapply(effects, function(e) e$name, "")
write_out(list(kind = "primer_effects", r_versions = r_versions, cases = effects),
          "primer_effects")

# ---------------------------------------------------------------------------
# OLS assumption tests
# ---------------------------------------------------------------------------
assump_case <- function(name, data_name, formula) {
  d <- get_data(data_name)
  m <- lm(as.formula(formula), data = d)
  # dwtest falls back to the normal approximation (with a warning) when the pan algorithm
  # returns a value outside [0, 1]; record whether the "exact" p value really is exact.
  exact_ok <- TRUE
  dw_exact <- withCallingHandlers(lmtest::dwtest(m, exact = TRUE), warning = function(w) {
    exact_ok <<- FALSE
    invokeRestart("muffleWarning")
  })
  dw_approx <- lmtest::dwtest(m, exact = FALSE)
  dw_two <- suppressWarnings(lmtest::dwtest(m, exact = TRUE, alternative = "two.sided"))
  bp <- lmtest::bptest(m, studentize = TRUE)
  bp_raw <- lmtest::bptest(m, studentize = FALSE)
  sw <- stats::shapiro.test(residuals(m))
  list(
    name = name, data = data_name, formula = formula, n = nobs(m),
    dw_statistic = unname(dw_exact$statistic),
    dw_p_exact = dw_exact$p.value, dw_exact_ok = exact_ok, dw_p_approx = dw_approx$p.value,
    dw_p_exact_two_sided = dw_two$p.value,
    bp_statistic = unname(bp$statistic), bp_df = unname(bp$parameter), bp_p = bp$p.value,
    bp_raw_statistic = unname(bp_raw$statistic), bp_raw_p = bp_raw$p.value,
    sw_statistic = unname(sw$statistic), sw_p = sw$p.value
  )
}
assumptions <- list(
  assump_case("sleepstudy_lm", "sleepstudy", "Reaction ~ Days"),
  assump_case("unbalanced_lm_interaction", "sim_unbalanced", "y ~ x * w"),
  assump_case("sleep9_lm", "sleep9", "Reaction ~ Days + Subject"),
  assump_case("dyestuff_lm", "Dyestuff", "Yield ~ Batch")
)
names(assumptions) <- vapply(assumptions, function(e) e$name, "")
write_out(list(kind = "primer_assumptions", r_versions = r_versions, cases = assumptions),
          "primer_assumptions")
cat("wrote primer_variance.json, primer_effects.json, primer_assumptions.json\n")
