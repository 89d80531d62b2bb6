# Reference values for tests/reference/test_emmeans_vs_r.py: emmeans 1.8 marginal means and
# contrasts of lmer fits (Kenward-Roger through pbkrtest, Satterthwaite through lmerTest) and
# of an lm fit. Data are simulated here and written to tests/reference/data/emm_*.csv.
# Run from the repository root: Rscript tests/reference/make_emmeans.R
suppressMessages({
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
})
source("tests/reference/helpers.R")
ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
emm_options(pbkrtest.limit = 1e5, lmerTest.limit = 1e5)

set.seed(20240612)
visits <- c("T0", "T3", "T6", "T9")
# (a) primer-style timed example: 30 subjects, 4 visits
n_id <- 30
timed <- expand.grid(time = visits, id = sprintf("s%02d", 1:n_id), stringsAsFactors = FALSE)
u <- rnorm(n_id, 0, 3)
timed$arm <- ifelse(as.integer(factor(timed$id)) %% 2 == 0, "treated", "control")
timed$age <- round(rep(runif(n_id, 30, 70), each = 4), 1)
mu <- c(T0 = 20, T3 = 22, T6 = 23.5, T9 = 24)[timed$time]
timed$y <- mu + 1.5 * (timed$arm == "treated") * (timed$time != "T0") +
  0.08 * (timed$age - 50) + u[as.integer(factor(timed$id))] + rnorm(nrow(timed), 0, 2)
write_csv_exact(timed[, c("id", "time", "arm", "age", "y")], "tests/reference/data/emm_timed.csv")
# (d) unbalanced: about a fifth of the visits missing
unbal <- timed[runif(nrow(timed)) > 0.2, ]
write_csv_exact(unbal[, c("id", "time", "arm", "age", "y")], "tests/reference/data/emm_unbalanced.csv")

datasets <- list(emm_timed = timed, emm_unbalanced = unbal)
for (nm in names(datasets)) {
  datasets[[nm]]$time <- factor(datasets[[nm]]$time, levels = visits)
  datasets[[nm]]$arm <- factor(datasets[[nm]]$arm)
  datasets[[nm]]$id <- factor(datasets[[nm]]$id)
}

custom <- list("T9 - (T6+T3)/2" = c(0, -0.5, -0.5, 1))

emm_rows <- function(e, level = 0.95) {
  s <- as.data.frame(summary(e, level = level))
  s
}

# one table: emmeans (method = NULL) or contrasts
table_of <- function(m, specs, by = NULL, at = list(), method = NULL, adjust = NULL,
                     ref = NULL, level = 0.95) {
  e <- emmeans(m, specs, by = by, at = if (length(at)) at else NULL)
  if (is.null(method)) {
    s <- as.data.frame(summary(e, level = level))
    est_col <- if ("emmean" %in% names(s)) "emmean" else "prediction"
    out <- list(estimate = s[[est_col]], std_error = s$SE, df = s$df,
                conf_low = s$lower.CL, conf_high = s$upper.CL)
    for (f in c(specs, by)) out[[f]] <- as.character(s[[f]])
    return(out)
  }
  meth <- if (identical(method, "custom")) custom else method
  args <- list(e, method = meth)
  if (!is.null(adjust)) args$adjust <- adjust
  if (!is.null(ref)) args$ref <- ref
  ct <- do.call(contrast, args)
  s <- as.data.frame(summary(ct, infer = c(TRUE, TRUE), level = level))
  out <- list(contrast = as.character(s$contrast), estimate = s$estimate, std_error = s$SE,
              df = s$df, statistic = s$t.ratio, p_value = s$p.value,
              conf_low = s$lower.CL, conf_high = s$upper.CL,
              adjust = if (is.null(attr(summary(ct), "mesg"))) "none" else
                paste(attr(summary(ct, infer = c(TRUE, TRUE)), "mesg"), collapse = " | "))
  for (f in by) out[[f]] <- as.character(s[[f]])
  out
}

requests <- list(
  # (a) timed
  list(case = "timed", specs = "time", method = NULL),
  list(case = "timed", specs = "time", method = "trt.vs.ctrl"),
  list(case = "timed", specs = "time", method = "trt.vs.ctrl", adjust = "none"),
  list(case = "timed", specs = "time", method = "consec", adjust = "none"),
  list(case = "timed", specs = "time", method = "consec"),
  list(case = "timed", specs = "time", method = "pairwise"),
  list(case = "timed", specs = "time", method = "revpairwise", adjust = "holm"),
  list(case = "timed", specs = "time", method = "pairwise", adjust = "bonferroni"),
  list(case = "timed", specs = "time", method = "pairwise", adjust = "sidak"),
  list(case = "timed", specs = "time", method = "pairwise", adjust = "mvt"),
  list(case = "timed", specs = "time", method = "custom"),
  list(case = "timed", specs = "time", method = "poly"),
  list(case = "timed", specs = "time", method = "eff"),
  # (b) interaction with by=
  list(case = "interaction", specs = "time", by = "arm", method = NULL),
  list(case = "interaction", specs = "time", by = "arm", method = "pairwise"),
  list(case = "interaction", specs = "time", by = "arm", method = "trt.vs.ctrl", ref = 2),
  list(case = "interaction", specs = "arm", by = "time", method = "revpairwise"),
  list(case = "interaction", specs = "arm", method = NULL),
  list(case = "interaction", specs = c("time", "arm"), method = NULL),
  list(case = "interaction", specs = c("time", "arm"), method = "pairwise"),
  list(case = "interaction", specs = "time", by = "arm", method = "consec"),
  # (c) numeric covariate
  list(case = "covariate", specs = "time", method = NULL),
  list(case = "covariate", specs = "time", at = list(age = 60), method = NULL),
  list(case = "covariate", specs = "time", at = list(age = 60), method = "pairwise"),
  list(case = "covariate", specs = "arm", method = "pairwise"),
  # (d) unbalanced
  list(case = "unbalanced", specs = "time", method = NULL),
  list(case = "unbalanced", specs = "time", method = "pairwise"),
  list(case = "unbalanced", specs = "time", by = "arm", method = "trt.vs.ctrl"),
  list(case = "unbalanced", specs = "arm", method = "pairwise"),
  list(case = "unbalanced_ml", specs = "time", method = "pairwise")
)
cases <- list(
  timed = list(data = "emm_timed", formula = "y ~ time + (1 | id)", reml = TRUE),
  interaction = list(data = "emm_timed", formula = "y ~ time * arm + (1 | id)", reml = TRUE),
  covariate = list(data = "emm_timed", formula = "y ~ time * age + arm + (1 | id)", reml = TRUE),
  unbalanced = list(data = "emm_unbalanced", formula = "y ~ time * arm + (1 | id)", reml = TRUE),
  unbalanced_ml = list(data = "emm_unbalanced", formula = "y ~ time * arm + (1 | id)", reml = FALSE)
)
fits <- lapply(cases, function(cs) {
  lmer(as.formula(cs$formula), datasets[[cs$data]], REML = cs$reml, control = ctrl)
})

out <- list()
for (r in requests) {
  cs <- cases[[r$case]]
  m <- fits[[r$case]]
  for (ddf in c("kenward-roger", "satterthwaite")) {
    emm_options(lmer.df = ddf)
    msgs <- character(0)
    tab <- withCallingHandlers(
      table_of(m, r$specs, r$by, if (is.null(r$at)) list() else r$at, r$method, r$adjust, r$ref),
      message = function(cnd) {
        msgs <<- c(msgs, conditionMessage(cnd))
        invokeRestart("muffleMessage")
      }
    )
    out[[length(out) + 1]] <- list(
      case = r$case, data = cs$data, formula = cs$formula, reml = cs$reml,
      theta = unname(getME(m, "theta")), ddf = ddf, specs = r$specs, by = r$by,
      at = r$at, method = r$method, adjust = r$adjust,
      ref = if (is.null(r$ref)) NULL else levels(datasets[[cs$data]][[r$specs]])[r$ref],
      messages = msgs, table = tab
    )
  }
}
emm_options(lmer.df = "kenward-roger")

# (e) an lm fit of the interaction model
lm_fit <- lm(y ~ time * arm, datasets$emm_timed)
lm_requests <- list(
  list(specs = "time", by = "arm", method = NULL),
  list(specs = "time", method = NULL),
  list(specs = "time", by = "arm", method = "pairwise"),
  list(specs = "time", method = "poly"),
  list(specs = "time", method = "eff"),
  list(specs = "time", method = "consec"),
  list(specs = "time", method = "pairwise", adjust = "mvt"),
  list(specs = "time", method = "custom"),
  list(specs = "arm", method = "pairwise", adjust = "none")
)
lm_out <- lapply(lm_requests, function(r) {
  list(data = "emm_timed", formula = "y ~ time * arm", specs = r$specs, by = r$by,
       method = r$method, adjust = r$adjust,
       table = table_of(lm_fit, r$specs, r$by, list(), r$method, r$adjust))
})

meta <- list(kind = "emmeans", R = R.version.string,
             emmeans = as.character(packageVersion("emmeans")),
             pbkrtest = as.character(packageVersion("pbkrtest")),
             lmerTest = as.character(packageVersion("lmerTest")),
             mvtnorm = as.character(packageVersion("mvtnorm")),
             lmer = out, lm = lm_out)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tests/reference/fixtures/emmeans.json")
