# Reference values for tests/test_anova_vs_r.py: lmerTest's anova(fit, type = 3 and 1) F tables
# with Satterthwaite df. Fits converged tightly (see make_formula_zoo.R for why).
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
      data = cs[1], formula = cs[2], type = type, term = rownames(a),
      sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]], num_df = a$NumDF, den_df = a$DenDF,
      statistic = a[["F value"]], p_value = a[["Pr(>F)"]]
    )
  }
}
meta <- list(kind = "anova_f", R = R.version.string,
             lmerTest = as.character(packageVersion("lmerTest")), cases = out)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/fixtures/anova_f.json")
