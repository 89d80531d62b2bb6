# Generate the R reference fixtures used by the bayesmixed test-suite.
#
# Usage (from the repository root):
#   Rscript tests/reference/export_datasets.R && Rscript tests/reference/make_fixtures.R
#
# Writes:
#   tests/reference/data/<name>.csv        simulated / derived datasets
#   tests/reference/fixtures/<case>.json   one file per fitted model
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(broom)
  library(broom.mixed)
  library(performance)
  library(jsonlite)
})
source(file.path("tests", "reference", "helpers.R"))

ref_dir <- file.path("tests", "reference")
data_dir <- file.path(ref_dir, "data")
fix_dir <- file.path(ref_dir, "fixtures")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
dir.create(fix_dir, recursive = TRUE, showWarnings = FALSE)

r_versions <- list(
  R = paste(R.version$major, R.version$minor, sep = "."),
  R_string = R.version.string,
  lme4 = as.character(packageVersion("lme4")),
  lmerTest = as.character(packageVersion("lmerTest")),
  broom = as.character(packageVersion("broom")),
  broom.mixed = as.character(packageVersion("broom.mixed")),
  performance = as.character(packageVersion("performance")),
  Matrix = as.character(packageVersion("Matrix")),
  nloptr = as.character(packageVersion("nloptr"))
)

CONTROL_JSON <- list(
  optimizer = "nloptwrap",
  optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-12, xtol_rel = 1e-12, maxeval = 1e5)
)
make_control <- function() {
  lmerControl(optimizer = "nloptwrap",
              optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-12, xtol_rel = 1e-12, maxeval = 1e5))
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

# Read a CSV exactly as the Python side sees it: declared columns as character.
read_ref_csv <- function(name, chr_cols) {
  path <- file.path(data_dir, paste0(name, ".csv"))
  hdr <- names(read.csv(path, nrows = 1, check.names = FALSE))
  cc <- ifelse(hdr %in% chr_cols, "character", NA)
  read.csv(path, stringsAsFactors = FALSE, colClasses = cc, check.names = FALSE)
}

# Bundled datasets: use the R objects themselves (the CSVs in
# bayesmixed/datasets round-trip exactly). Check factor levels are sorted, so
# that a consumer that sorts unique strings gets the same level order.
bundled <- list(
  sleepstudy = lme4::sleepstudy,
  Penicillin = lme4::Penicillin,
  Pastes = lme4::Pastes,
  Dyestuff = lme4::Dyestuff,
  Dyestuff2 = lme4::Dyestuff2
)
for (nm in names(bundled)) {
  for (col in names(bundled[[nm]])) {
    v <- bundled[[nm]][[col]]
    if (is.factor(v) && !identical(levels(v), sort(unique(as.character(v)), method = "radix")))
      warning(sprintf("%s$%s: factor levels are not in sorted order", nm, col))
  }
}

## sleep_period: sleepstudy + 3-level categorical period ------------------
sp <- lme4::sleepstudy
sp$Subject <- as.character(sp$Subject)
sp$period <- ifelse(sp$Days <= 2, "early", ifelse(sp$Days <= 6, "mid", "late"))
write_csv_exact(sp, file.path(data_dir, "sleep_period.csv"))

## sleep9: the first 9 subjects, Subject as "S308" etc. ---------------------
s9 <- lme4::sleepstudy
keep <- levels(s9$Subject)[1:9]
s9 <- s9[s9$Subject %in% keep, ]
s9$Subject <- paste0("S", as.character(s9$Subject))
rownames(s9) <- NULL
write_csv_exact(s9, file.path(data_dir, "sleep9.csv"))

## sim_three_level: schools / classes / students ---------------------------
simulate_three_level <- function() {
  set.seed(20240501)
  n_school <- 20
  rows <- list()
  sector_of <- sample(rep(c("public", "private"), each = n_school / 2))
  u_school <- rnorm(n_school, 0, 3)
  b_school <- rnorm(n_school, 0, 0.8)
  for (s in seq_len(n_school)) {
    n_class <- sample(3:8, 1)
    for (k in seq_len(n_class)) {
      n_stu <- sample(5:15, 1)
      z <- round(rnorm(1), 4)
      u_class <- rnorm(1, 0, 2)
      x <- round(rnorm(n_stu), 4)
      priv <- as.numeric(sector_of[s] == "private")
      y <- 50 + (2 + b_school[s]) * x + 1.5 * z + 3 * priv + 0.7 * x * priv +
        u_school[s] + u_class + rnorm(n_stu, 0, 4)
      rows[[length(rows) + 1]] <- data.frame(
        y = round(y, 3), x = x, z = z, sector = sector_of[s],
        school = sprintf("s%02d", s), class = paste0("c", k),
        stringsAsFactors = FALSE)
    }
  }
  do.call(rbind, rows)
}
write_csv_exact(simulate_three_level(), file.path(data_dir, "sim_three_level.csv"))

## sim_crossed: subjects x items, ~70% observed -----------------------------
simulate_crossed <- function() {
  set.seed(20240502)
  n_subj <- 40
  n_item <- 25
  d <- expand.grid(item = seq_len(n_item), subject = seq_len(n_subj))
  d <- d[, c("subject", "item")]
  d <- d[runif(nrow(d)) < 0.7, ]
  grp <- sample(rep(c("A", "B"), each = n_subj / 2))
  L <- t(chol(matrix(c(50^2, 0.3 * 50 * 20, 0.3 * 50 * 20, 20^2), 2)))
  re_subj <- t(L %*% matrix(rnorm(2 * n_subj), 2))
  re_item <- rnorm(n_item, 0, 30)
  cond <- rnorm(nrow(d))
  cond <- round(cond - mean(cond), 3)
  g <- grp[d$subject]
  rt <- 600 + 40 * cond + 30 * (g == "B") +
    re_subj[d$subject, 1] + re_subj[d$subject, 2] * cond +
    re_item[d$item] + rnorm(nrow(d), 0, 60)
  data.frame(rt = round(rt, 2), cond = cond, group = g,
             subject = sprintf("subj%02d", d$subject),
             item = sprintf("item%02d", d$item),
             stringsAsFactors = FALSE)
}
write_csv_exact(simulate_crossed(), file.path(data_dir, "sim_crossed.csv"))

## sim_unbalanced: 30 groups of size 1..40 ---------------------------------
simulate_unbalanced <- function() {
  set.seed(20240503)
  n_g <- 30
  sizes <- sample(c(1, 40, sample(1:40, n_g - 2, replace = TRUE)))
  g <- rep(sprintf("g%02d", seq_len(n_g)), times = sizes)
  n <- length(g)
  gi <- rep(seq_len(n_g), times = sizes)
  u0 <- rnorm(n_g, 0, 2)
  u1 <- rnorm(n_g, 0, 0.5)
  x <- round(rnorm(n, 2, 1.5), 4)
  w <- round(exp(rnorm(n, 0.5, 0.6)), 4)
  y <- 10 + (1.2 + u1[gi]) * x + 0.8 * log(w) + 0.15 * x * w + u0[gi] +
    rnorm(n, 0, 1.5)
  data.frame(y = round(y, 4), x = x, w = w, g = g, stringsAsFactors = FALSE)
}
write_csv_exact(simulate_unbalanced(), file.path(data_dir, "sim_unbalanced.csv"))

csv_data <- list(
  sleep_period = read_ref_csv("sleep_period", c("Subject", "period")),
  sleep9 = read_ref_csv("sleep9", "Subject"),
  sim_three_level = read_ref_csv("sim_three_level", c("sector", "school", "class")),
  sim_crossed = read_ref_csv("sim_crossed", c("group", "subject", "item")),
  sim_unbalanced = read_ref_csv("sim_unbalanced", "g")
)

get_data <- function(name) {
  if (!is.null(bundled[[name]])) bundled[[name]] else csv_data[[name]]
}

# ---------------------------------------------------------------------------
# Extraction helpers
# ---------------------------------------------------------------------------

dots_to_underscores <- function(df) {
  names(df) <- gsub(".", "_", names(df), fixed = TRUE)
  df
}

plain <- function(df) {
  df <- as.data.frame(df, stringsAsFactors = FALSE)
  for (j in seq_along(df)) if (is.factor(df[[j]])) df[[j]] <- as.character(df[[j]])
  rownames(df) <- NULL
  df
}

arr <- function(x) I(unname(as.numeric(x)))

vcov_json <- function(V) {
  V <- as.matrix(V)
  list(names = I(colnames(V)), matrix = unname(V))
}

num_or_na <- function(x) {
  if (is.null(x) || length(x) == 0) return(NA)
  x <- unname(as.numeric(x))[1]
  if (is.na(x)) NA else x
}

# Evaluate expr, collecting warnings and messages instead of printing them.
collect <- function(expr) {
  warns <- character()
  msgs <- character()
  value <- withCallingHandlers(
    expr,
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    },
    message = function(m) {
      msgs <<- c(msgs, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    }
  )
  list(value = value, warnings = warns, messages = msgs)
}

newdata_records <- function(nd) plain(nd)

performance_stats <- function(m) {
  # NA is written as JSON null
  res <- list(icc_adjusted = NA, icc_unadjusted = NA, icc_conditional = NA,
              r2_marginal = NA, r2_conditional = NA)
  notes <- character()
  printed <- character()
  quiet <- function(expr) {
    out <- NULL
    printed <<- c(printed, utils::capture.output(out <- collect(expr)))
    out
  }
  ic <- tryCatch(quiet(performance::icc(m)), error = function(e) {
    notes <<- c(notes, paste("icc error:", conditionMessage(e)))
    NULL
  })
  if (!is.null(ic)) {
    notes <- c(notes, ic$warnings, ic$messages)
    if (is.list(ic$value)) {
      res$icc_adjusted <- num_or_na(ic$value$ICC_adjusted)
      res$icc_unadjusted <- num_or_na(ic$value$ICC_unadjusted)
      res$icc_conditional <- num_or_na(ic$value$ICC_conditional)
    }
  }
  r2 <- tryCatch(quiet(performance::r2_nakagawa(m)), error = function(e) {
    notes <<- c(notes, paste("r2_nakagawa error:", conditionMessage(e)))
    NULL
  })
  if (!is.null(r2)) {
    notes <- c(notes, r2$warnings, r2$messages)
    if (is.list(r2$value)) {
      res$r2_marginal <- num_or_na(r2$value$R2_marginal)
      res$r2_conditional <- num_or_na(r2$value$R2_conditional)
    }
  }
  printed <- trimws(printed[nzchar(trimws(printed))])
  list(values = res, notes = unique(c(notes, printed)))
}

write_fixture <- function(obj, case) {
  path <- file.path(fix_dir, paste0(case, ".json"))
  jsonlite::write_json(obj, path, digits = NA, auto_unbox = TRUE,
                       null = "null", na = "null", pretty = TRUE)
  path
}

summary_lines <- character()

# ---------------------------------------------------------------------------
# lmer cases
# ---------------------------------------------------------------------------

fit_lmer_case <- function(case, data_name, formula, REML, newdata) {
  data <- get_data(data_name)
  fml <- as.formula(formula)
  fit <- collect(lmerTest::lmer(fml, data = data, REML = REML, control = make_control()))
  m <- fit$value
  if (!inherits(m, "lmerModLmerTest"))
    stop(sprintf("%s: lmerTest did not return an lmerModLmerTest object", case))

  td <- plain(broom.mixed::tidy(m, effects = c("fixed", "ran_pars")))
  td <- dots_to_underscores(td[, c("effect", "group", "term", "estimate",
                                   "std.error", "statistic", "df", "p.value")])

  gl <- plain(broom.mixed::glance(m))
  crit <- if (REML) "REMLcrit" else "deviance"
  gl <- as.list(dots_to_underscores(gl[, c("nobs", "sigma", "logLik", "AIC", "BIC",
                                          crit, "df.residual")]))

  rv <- plain(broom.mixed::tidy(m, effects = "ran_vals"))
  rv <- dots_to_underscores(rv[, c("group", "level", "term", "estimate", "std.error")])

  vc <- plain(as.data.frame(VarCorr(m)))

  fe <- fixef(m)
  extra <- collect(list(
    predict_re = predict(m, newdata = newdata, allow.new.levels = TRUE),
    predict_fixed = predict(m, newdata = newdata, re.form = NA)
  ))

  fixed_terms <- attr(terms(m, fixed.only = TRUE), "term.labels")
  aov <- NULL
  if (length(fixed_terms) > 0) {
    a <- anova(m)
    aov <- data.frame(
      term = rownames(a),
      sum_sq = a[["Sum Sq"]], mean_sq = a[["Mean Sq"]],
      num_df = a[["NumDF"]], den_df = a[["DenDF"]],
      statistic = a[["F value"]], p_value = a[["Pr(>F)"]],
      stringsAsFactors = FALSE)
  }

  perf <- if (REML) performance_stats(m) else NULL

  conv_msgs <- unlist(m@optinfo$conv$lme4$messages)
  obj <- list(
    case = case,
    kind = "lmer",
    data = data_name,
    formula = formula,
    REML = REML,
    control = CONTROL_JSON,
    r_versions = r_versions,
    tidy = td,
    glance = gl,
    ranef = rv,
    theta = arr(getME(m, "theta")),
    theta_names = I(names(getME(m, "theta"))),
    fixef = as.list(fe),
    vcov = vcov_json(vcov(m)),
    varcorr = vc,
    ngrps = as.list(ngrps(m)),
    fitted = arr(fitted(m)),
    residuals = arr(residuals(m)),
    newdata = newdata_records(newdata),
    predict_re = arr(extra$value$predict_re),
    predict_fixed = arr(extra$value$predict_fixed),
    singular = isSingular(m),
    performance = if (is.null(perf)) NA else perf$values,
    performance_notes = if (is.null(perf)) I(character()) else I(perf$notes),
    anova_satterthwaite = if (is.null(aov)) NA else aov,
    fit_warnings = I(fit$warnings),
    fit_messages = I(fit$messages),
    convergence_messages = I(if (is.null(conv_msgs)) character() else conv_msgs),
    optimizer_feval = m@optinfo$feval
  )
  path <- write_fixture(obj, case)
  line <- sprintf("%-34s logLik=%14.6f  singular=%-5s  warnings=%d messages=%d",
                  case, as.numeric(logLik(m)), isSingular(m),
                  length(fit$warnings), length(fit$messages))
  cat(line, "\n")
  if (length(fit$warnings)) cat("    warnings:", paste(fit$warnings, collapse = " | "), "\n")
  if (length(fit$messages)) cat("    messages:", paste(fit$messages, collapse = " | "), "\n")
  if (length(extra$warnings)) cat("    predict warnings:", paste(extra$warnings, collapse = " | "), "\n")
  if (!is.null(perf) && length(perf$notes))
    cat("    performance:", paste(perf$notes, collapse = " | "), "\n")
  summary_lines <<- c(summary_lines, line)
  invisible(m)
}

both <- function(prefix, data_name, formula, newdata) {
  fit_lmer_case(paste0(prefix, "_reml"), data_name, formula, TRUE, newdata)
  fit_lmer_case(paste0(prefix, "_ml"), data_name, formula, FALSE, newdata)
}

# ---------------------------------------------------------------------------
# lm cases
# ---------------------------------------------------------------------------

fit_lm_case <- function(case, data_name, formula, newdata) {
  data <- get_data(data_name)
  fit <- collect(lm(as.formula(formula), data = data))
  m <- fit$value
  td <- plain(broom::tidy(m))
  td <- dots_to_underscores(td[, c("term", "estimate", "std.error", "statistic", "p.value")])
  td$df <- rep(df.residual(m), nrow(td))
  gl <- plain(broom::glance(m))
  gl <- as.list(dots_to_underscores(gl[, c("r.squared", "adj.r.squared", "sigma",
                                          "statistic", "p.value", "df", "logLik",
                                          "AIC", "BIC", "deviance", "df.residual",
                                          "nobs")]))
  a <- anova(m)
  aov <- data.frame(
    term = trimws(rownames(a)), df = a[["Df"]], sum_sq = a[["Sum Sq"]],
    mean_sq = a[["Mean Sq"]], statistic = a[["F value"]], p_value = a[["Pr(>F)"]],
    stringsAsFactors = FALSE)
  pr <- predict(m, newdata = newdata, se.fit = TRUE)
  obj <- list(
    case = case,
    kind = "lm",
    data = data_name,
    formula = formula,
    r_versions = r_versions,
    tidy = td,
    glance = gl,
    anova = aov,
    fixef = as.list(coef(m)),
    vcov = vcov_json(vcov(m)),
    fitted = arr(fitted(m)),
    residuals = arr(residuals(m)),
    newdata = newdata_records(newdata),
    predict = arr(pr$fit),
    predict_se = arr(pr$se.fit),
    fit_warnings = I(fit$warnings)
  )
  write_fixture(obj, case)
  line <- sprintf("%-34s logLik=%14.6f  (lm)", case, as.numeric(logLik(m)))
  cat(line, "\n")
  summary_lines <<- c(summary_lines, line)
  invisible(m)
}

# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

nd_sleep <- data.frame(Days = c(0, 4.5, 9, 3, 12),
                       Subject = c("308", "309", "372", "999", "999"),
                       stringsAsFactors = FALSE)

both("sleepstudy_slopes", "sleepstudy", "Reaction ~ Days + (Days | Subject)", nd_sleep)
both("sleepstudy_uncorr", "sleepstudy", "Reaction ~ Days + (Days || Subject)", nd_sleep)
both("sleepstudy_split", "sleepstudy",
     "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", nd_sleep)

both("penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)",
     data.frame(plate = c("a", "x", "a", "zz", "zz"),
                sample = c("A", "F", "Q", "C", "Q"), stringsAsFactors = FALSE))

both("pastes", "Pastes", "strength ~ 1 + (1 | batch/cask)",
     data.frame(batch = c("A", "J", "A", "Z", "Z"),
                cask = c("a", "c", "z", "a", "z"), stringsAsFactors = FALSE))

nd_dye <- data.frame(Batch = c("A", "F", "G"), stringsAsFactors = FALSE)
both("dyestuff", "Dyestuff", "Yield ~ 1 + (1 | Batch)", nd_dye)
both("dyestuff2", "Dyestuff2", "Yield ~ 1 + (1 | Batch)", nd_dye)

both("sleep_period", "sleep_period", "Reaction ~ Days + period + (1 + period | Subject)",
     data.frame(Days = c(1, 5, 8, 8, 2),
                period = c("early", "mid", "late", "late", "early"),
                Subject = c("308", "330", "372", "999", "999"),
                stringsAsFactors = FALSE))

nd_school <- data.frame(
  x = c(0.5, -1.2, 1.0, 0.3, -0.4, 2.0),
  z = c(0.1, 0.7, -0.3, 0.0, 1.1, -0.8),
  sector = c("public", "private", "public", "private", "public", "private"),
  school = c("s01", "s05", "s01", "s99", "s99", "s12"),
  class = c("c1", "c2", "c99", "c1", "c99", "c3"),
  stringsAsFactors = FALSE)
# make the sector of seen schools consistent with the data
tl <- csv_data$sim_three_level
for (i in seq_len(nrow(nd_school))) {
  s <- nd_school$school[i]
  if (s %in% tl$school) nd_school$sector[i] <- tl$sector[tl$school == s][1]
}
both("three_level_nested", "sim_three_level", "y ~ x + z + sector + (1 | school/class)",
     nd_school)
both("three_level_slopes", "sim_three_level",
     "y ~ x * sector + z + (1 + x | school) + (1 | school:class)", nd_school)

cr <- csv_data$sim_crossed
nd_crossed <- data.frame(
  cond = c(-1, 0.5, 1.5, 0, -0.3),
  subject = c("subj01", "subj40", "subj07", "subj99", "subj99"),
  item = c("item01", "item25", "item99", "item03", "item99"),
  stringsAsFactors = FALSE)
nd_crossed$group <- ifelse(nd_crossed$subject %in% cr$subject,
                           cr$group[match(nd_crossed$subject, cr$subject)], "B")
both("crossed_slopes", "sim_crossed", "rt ~ cond + group + (1 + cond | subject) + (1 | item)",
     nd_crossed)

nd_unb <- data.frame(x = c(0, 2.5, 4, 1, 3),
                     w = c(1, 0.5, 3.2, 2, 1.7),
                     g = c("g01", "g15", "g30", "g99", "g99"),
                     stringsAsFactors = FALSE)
both("unbalanced_slopes", "sim_unbalanced", "y ~ x + (x | g)", nd_unb)
both("unbalanced_transform", "sim_unbalanced", "y ~ scale(x) + log(w) + (1 | g)", nd_unb)

# lm cases
fit_lm_case("sleep9_lm_interaction", "sleep9", "Reaction ~ Days * Subject",
            data.frame(Days = c(0, 4.5, 9, 2),
                       Subject = c("S308", "S309", "S333", "S308"),
                       stringsAsFactors = FALSE))
fit_lm_case("sleepstudy_lm", "sleepstudy", "Reaction ~ Days",
            data.frame(Days = c(0, 4.5, 9, 12)))
fit_lm_case("unbalanced_lm_interaction", "sim_unbalanced", "y ~ x * w",
            nd_unb[, c("x", "w")])

cat(sprintf("\nWrote %d fixtures to %s\n", length(summary_lines), fix_dir))
