# Reference values for tests/test_anova_vs_r.py: lmerTest's anova(fit, type = 3 and 1) F tables
# with Satterthwaite df, and Kenward-Roger (pbkrtest) summaries and tables. Fits converged tightly (see make_formula_zoo.R for why).
# Run from the repository root: Rscript tests/reference/make_anova.R
suppressMessages({
  library(lmerTest)
  library(jsonlite)
})
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
zoo <- read.csv("tests/reference/data/formula_zoo.csv", stringsAsFactors = TRUE)
data(Orthodont, package = "nlme")
data(BodyWeight, package = "nlme")
datasets <- list(
  formula_zoo = zoo, sleepstudy = sleepstudy,
  Orthodont = transform(as.data.frame(Orthodont), Subject = factor(as.character(Subject))),
  BodyWeight = transform(as.data.frame(BodyWeight), Rat = factor(as.character(Rat)))
)
cases <- list(
  c("formula_zoo", "y ~ f * x + (1 | g)"),
  c("formula_zoo", "y ~ f * h + x + (1 | g)"),
  c("formula_zoo", "y ~ x * w + f + (1 | g)"),
  c("formula_zoo", "y ~ 0 + f + x + (1 | g)"),
  c("formula_zoo", "y ~ f * x * h + (x | g)"),
  c("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
  c("Orthodont", "distance ~ age * Sex + (age | Subject)"),
  c("BodyWeight", "weight ~ Time * Diet + (Time | Rat)")
)
out <- list()
for (cs in cases) {
  m <- suppressWarnings(lmer(as.formula(cs[2]), datasets[[cs[1]]], control = ctrl))
  for (type in c(3, 1)) {
    a <- as.data.frame(anova(m, type = type))
    out[[length(out) + 1]] <- list(
      data = cs[1], formula = cs[2], type = type, theta = unname(getME(m, "theta")),
      term = rownames(a),
      sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], num_df = a$NumDF, den_df = a$DenDF,
      statistic = a[["F value"]], p_value = a[["Pr(>F)"]]
    )
  }
}
# Kenward-Roger (pbkrtest): summary coefficients and type III tables
datasets$Pastes <- Pastes
kcases <- list(
  c("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
  c("formula_zoo", "y ~ f * x + (1 | g) + (1 | h)"),
  c("formula_zoo", "y ~ x + w + (x | g)"),
  c("Orthodont", "distance ~ age * Sex + (age | Subject)"),
  c("BodyWeight", "weight ~ Time * Diet + (Time | Rat)"),
  c("Pastes", "strength ~ 1 + (1 | batch/cask)")
)
kout <- list()
for (cs in kcases) {
  m <- suppressWarnings(lmer(as.formula(cs[2]), datasets[[cs[1]]], control = ctrl))
  co <- summary(m, ddf = "Kenward-Roger")$coefficients
  a <- as.data.frame(anova(m, ddf = "Kenward-Roger"))
  kout[[length(kout) + 1]] <- list(
    data = cs[1], formula = cs[2], theta = unname(getME(m, "theta")),
    coef = list(term = rownames(co), estimate = unname(co[, "Estimate"]),
                std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                statistic = unname(co[, "t value"]), p_value = unname(co[, "Pr(>|t|)"])),
    anova = list(term = rownames(a), sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]],
                 num_df = a$NumDF, den_df = a$DenDF, statistic = a[["F value"]],
                 p_value = a[["Pr(>F)"]]),
    vcov_adj = unname(as.matrix(pbkrtest::vcovAdj(m)))
  )
}
meta <- list(kind = "anova_f", R = R.version.string,
             lmerTest = as.character(packageVersion("lmerTest")),
             pbkrtest = as.character(packageVersion("pbkrtest")), cases = out, kr = kout)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/fixtures/anova_f.json")
