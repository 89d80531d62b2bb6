# Reference values for tests/test_lrt_vs_r.py: lme4's anova() likelihood-ratio tables.
# Run from the repository root: Rscript tests/reference/make_lrt.R
suppressMessages({
  library(lme4)
  library(jsonlite)
})
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
fit <- function(f, d, reml = TRUE) {
  if (grepl("|", f, fixed = TRUE)) lmer(as.formula(f), d, REML = reml, control = ctrl)
  else lm(as.formula(f), d)
}
sleep <- sleepstudy
cases <- list(
  list(data = "sleepstudy", refit = TRUE, formulas = c(
    "Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (1 | Subject)",
    "Reaction ~ Days + (Days || Subject)")),
  list(data = "sleepstudy", refit = TRUE, formulas = c(
    "Reaction ~ Days + (1 | Subject)", "Reaction ~ Days")),
  list(data = "sleepstudy", refit = FALSE, formulas = c(
    "Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days || Subject)")),
  list(data = "sleepstudy", refit = TRUE, formulas = c(
    "Reaction ~ 1 + (Days | Subject)", "Reaction ~ Days + (Days | Subject)")),
  list(data = "Penicillin", refit = TRUE, formulas = c(
    "diameter ~ 1 + (1 | plate)", "diameter ~ 1 + (1 | plate) + (1 | sample)")),
  list(data = "Pastes", refit = FALSE, formulas = c(
    "strength ~ 1 + (1 | batch/cask)", "strength ~ 1 + (1 | batch)"))
)
datasets <- list(sleepstudy = sleepstudy, Penicillin = Penicillin, Pastes = Pastes)
out <- list()
for (cs in cases) {
  d <- datasets[[cs$data]]
  fits <- lapply(cs$formulas, fit, d = d)
  a <- suppressWarnings(suppressMessages(do.call(anova, c(fits, list(refit = cs$refit)))))
  # anova labels rows by the argument names; map them back to the formulas
  ord <- order(sapply(fits, function(m) attr(logLik(m), "df")))
  out[[length(out) + 1]] <- list(
    data = cs$data, refit = cs$refit, formulas = cs$formulas,
    model = cs$formulas[ord], npar = a$npar, AIC = a$AIC, BIC = a$BIC,
    logLik = a$logLik, deviance = a$deviance, statistic = a$Chisq, df = a$Df,
    p_value = a[["Pr(>Chisq)"]]
  )
}
meta <- list(kind = "lrt", R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             cases = out)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/fixtures/lrt.json")
