# Reference values for tests/test_lrt_vs_r.py: lme4's anova() likelihood-ratio tables and
# lmerTest's ranova().
# Run from the repository root: Rscript tests/reference/make_lrt.R
suppressMessages({
  library(lmerTest)
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
  # θ of each fit as passed to anova() and, where anova() refits it by ML, of its refitML()
  # (the same call anova makes), in the order of `formulas`; null for lm fits
  th <- function(m) if (inherits(m, "merMod")) unname(getME(m, "theta")) else NULL
  theta_ml <- lapply(fits, function(m) {
    if (inherits(m, "merMod") && cs$refit && isREML(m)) th(refitML(m)) else th(m)
  })
  out[[length(out) + 1]] <- list(
    data = cs$data, refit = cs$refit, formulas = cs$formulas,
    theta = lapply(fits, th), theta_ml = theta_ml,
    model = cs$formulas[ord], npar = a$npar, AIC = a$AIC, BIC = a$BIC,
    logLik = a$logLik, deviance = a$deviance, statistic = a$Chisq, df = a$Df,
    p_value = a[["Pr(>Chisq)"]]
  )
}
# lmerTest's ranova(): single-term reductions of the random part
zoo <- read.csv("tests/reference/data/formula_zoo.csv", stringsAsFactors = TRUE)
datasets$formula_zoo <- zoo
rcases <- list(
  c("sleepstudy", "Reaction ~ Days + (Days | Subject)", TRUE),
  c("sleepstudy", "Reaction ~ Days + (Days || Subject)", TRUE),
  c("sleepstudy", "Reaction ~ Days + (1 | Subject)", TRUE),
  c("sleepstudy", "Reaction ~ Days + (1 | Subject)", FALSE),
  c("Pastes", "strength ~ 1 + (1 | batch/cask)", TRUE),
  c("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", FALSE),
  c("formula_zoo", "y ~ x + (1 + x + w | g) + (1 | h)", TRUE),
  c("formula_zoo", "y ~ x + (f | g)", TRUE),
  c("formula_zoo", "y ~ x + (0 + x | g) + (1 | g:h)", TRUE)
)
# θ of every reduced model ranova() refits, in the order it fits them (lmer's mkMerMod);
# reductions to the linear model do not appear
reduced_theta <- list()
trace("mkMerMod", where = asNamespace("lme4"), print = FALSE, exit = quote(
  reduced_theta[[length(reduced_theta) + 1]] <<- unname(getME(returnValue(), "theta"))))
rout <- list()
for (cs in rcases) {
  m <- suppressWarnings(suppressMessages(
    lmer(as.formula(cs[2]), datasets[[cs[1]]], REML = as.logical(cs[3]), control = ctrl)))
  reduced_theta <- list()
  r <- suppressWarnings(suppressMessages(ranova(m)))
  rout[[length(rout) + 1]] <- list(
    data = cs[1], formula = cs[2], REML = as.logical(cs[3]), term = rownames(r),
    npar = r$npar, logLik = r$logLik, AIC = r$AIC, statistic = r$LRT, df = r$Df,
    p_value = r[["Pr(>Chisq)"]], theta = unname(getME(m, "theta")),
    theta_reduced = reduced_theta
  )
}
untrace("mkMerMod", where = asNamespace("lme4"))
meta <- list(kind = "lrt", R = R.version.string, lme4 = as.character(packageVersion("lme4")),
             lmerTest = as.character(packageVersion("lmerTest")), cases = out, ranova = rout)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"),
           "tests/reference/fixtures/lrt.json")
