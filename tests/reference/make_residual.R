# Reference values for residual covariance structures (R-side structures of gls/lme, SAS REPEATED,
# mmrm): CS, CSH, AR1, ARH1, TOEP, TOEPH, UN, AD and CAR1, by REML and ML, on simulated
# longitudinal trials. Writes data/longitudinal_{balanced,unbalanced,times}.csv and
# fixtures/residual.json (schema in tests/reference/README.md).
# Run from the repository root: Rscript tests/reference/make_residual.R
suppressMessages({
  library(nlme)
  library(lmerTest)
  library(jsonlite)
})
source("tests/reference/helpers.R")

VISITS <- c("T0", "T3", "T6", "T9")
NT <- length(VISITS)

# ---- data -----------------------------------------------------------------------------------------
# A primer-style two-arm trial: 80 subjects, 4 visits, a subject random intercept on top of a
# heteroscedastic unstructured residual covariance (the treated arm's SDs are 1.25 times larger,
# so the by = "arm" cases have something to find).
set.seed(3)
n_subj <- 80
ids <- sprintf("s%03d", seq_len(n_subj))
arms <- sample(rep(c("control", "treated"), each = n_subj / 2))
mu <- rbind(control = c(20, 20.4, 20.9, 21.1), treated = c(20, 19.2, 18.5, 18.1))
R_true <- matrix(c(1, .6, .35, .2, .6, 1, .6, .35, .35, .6, 1, .65, .2, .35, .65, 1), NT)
sd_true <- c(1.0, 1.3, 1.7, 2.1)
grid <- expand.grid(visit = VISITS, id = ids, stringsAsFactors = FALSE)[, c("id", "visit")]
grid$arm <- arms[match(grid$id, ids)]
grid$x <- round(rnorm(nrow(grid)), 3)
b <- rnorm(n_subj, sd = 1.6)
e <- do.call(rbind, lapply(seq_len(n_subj), function(i) {
  s <- sd_true * if (arms[i] == "treated") 1.25 else 1
  drop(rnorm(NT) %*% chol(R_true * outer(s, s)))
}))
grid$y <- mu[cbind(match(grid$arm, rownames(mu)), match(grid$visit, VISITS))] + 0.6 * grid$x +
  b[match(grid$id, ids)] + as.vector(t(e))
balanced <- grid[, c("id", "arm", "visit", "x", "y")]

# Unbalanced: the baseline T0 is always observed (so nlme's varIdent reference level, the first
# level in the data, is T0); 12 subjects drop out after T3 or T6, and every other post-baseline
# visit is missing with probability 0.24, so intermediate visits go missing too.
keep <- rep(TRUE, nrow(balanced))
pos <- match(balanced$visit, VISITS)
drop_ids <- sample(ids, 12)
drop_after <- setNames(sample(2:3, 12, replace = TRUE), drop_ids)
is_drop <- balanced$id %in% drop_ids
keep[is_drop] <- pos[is_drop] <= drop_after[balanced$id[is_drop]]
keep[pos > 1 & runif(nrow(balanced)) < 0.24] <- FALSE
unbalanced <- balanced[keep, ]

# Numeric, unequally spaced times (nominal 0, 2.5, 7, 12, jittered per subject) for CAR1, with an
# exponential correlation in t; `week` = round(t) is an integer time for AR1 on a numeric time.
t_nom <- c(0, 2.5, 7, 12)
times <- grid[, c("id", "arm", "visit", "x")]
tp <- match(times$visit, VISITS)
jitter <- ifelse(tp == 1, runif(nrow(times), 0, 0.4), runif(nrow(times), -0.6, 0.6))
times$t <- round(t_nom[tp] + jitter, 2)
times$week <- as.integer(round(times$t))
times$y <- NA_real_
for (i in seq_len(n_subj)) {
  r <- which(times$id == ids[i])
  V <- 1.5^2 * exp(-abs(outer(times$t[r], times$t[r], "-")) / 4) + 1.0^2
  times$y[r] <- mu[arms[i], ] + 0.6 * times$x[r] + drop(rnorm(NT) %*% chol(V))
}
times <- times[tp == 1 | runif(nrow(times)) >= 0.15, c("id", "arm", "visit", "t", "week", "x", "y")]
stopifnot(all(tapply(times$week, times$id, anyDuplicated) == 0))

for (nm in c("balanced", "unbalanced", "times")) {
  write_csv_exact(get(nm), sprintf("tests/reference/data/longitudinal_%s.csv", nm))
}
# Fit to the data as read back from the CSV: visit a factor in visit order, arm's levels sorted,
# rows sorted by subject and visit; vnum = the visit's position 1..4 (for AR1, TOEP, UN).
read_long <- function(nm) {
  d <- read.csv(sprintf("tests/reference/data/longitudinal_%s.csv", nm), stringsAsFactors = FALSE)
  d$visit <- factor(d$visit, levels = VISITS)
  d$arm <- factor(d$arm)
  d$vnum <- as.integer(d$visit)
  d <- d[order(d$id, d$vnum), ]
  rownames(d) <- NULL
  d
}
DATA <- list(
  longitudinal_balanced = read_long("balanced"), longitudinal_unbalanced = read_long("unbalanced"),
  longitudinal_times = read_long("times")
)

# ---- helpers --------------------------------------------------------------------------------------
full_subject <- function(d) {
  n <- table(d$id)
  names(n)[n == NT][1]
}
pair_names <- function(prefix, lv) {
  ij <- which(upper.tri(diag(length(lv))), arr.ind = TRUE)
  ij <- ij[order(ij[, 1], ij[, 2]), , drop = FALSE]
  list(ij = ij, names = paste0(prefix, lv[ij[, 1]], ".", lv[ij[, 2]]))
}
UN_PAIRS <- pair_names("cor__", VISITS)
HETERO <- c("CSH", "ARH1", "TOEPH", "UN", "AD")

# The residual rows of ran_pars for one covariance block (sd vector over the times and its
# correlation matrix), named by the structure.
residual_rows <- function(structure, sds, R, group = "Residual", rho = NULL) {
  if (structure %in% HETERO) {
    term <- paste0("sd__", VISITS)
    est <- sds
  } else {
    term <- "sd__Observation"
    est <- sds[1]
  }
  if (structure %in% c("CS", "CSH")) {
    term <- c(term, "rho")
    est <- c(est, R[1, 2])
  } else if (structure %in% c("AR1", "ARH1", "CAR1")) {
    term <- c(term, "rho")
    est <- c(est, rho)
  } else if (structure %in% c("TOEP", "TOEPH")) {
    term <- c(term, paste0("cor__lag", 1:(NT - 1)))
    est <- c(est, R[1, 2:NT])
  } else if (structure == "UN") {
    term <- c(term, UN_PAIRS$names)
    est <- c(est, R[UN_PAIRS$ij])
  } else if (structure == "AD") {
    term <- c(term, paste0("rho__", VISITS[-NT], ".", VISITS[-1]))
    est <- c(est, R[cbind(1:(NT - 1), 2:NT)])
  }
  list(group = rep(group, length(term)), term = term, estimate = unname(est))
}

fixef_block <- function(beta, V) {
  list(term = names(beta), estimate = unname(beta), std_error = unname(sqrt(diag(V))))
}

new_case <- function(id, data, formula, structure, reml, method, ll, npar, nobs, sigma, fixef,
                     ran_pars, cov, time = "visit", by = NULL, df = NULL) {
  list(
    id = id, data = data, formula = formula, structure = structure, time = time, group = "id",
    by = by, reml = reml, method = method, logLik = ll, AIC = -2 * ll + 2 * npar,
    BIC = -2 * ll + log(nobs) * npar, npar = npar, sigma = sigma, fixef = fixef,
    ran_pars = ran_pars, cov = cov, df = df
  )
}

case_id <- function(structure, reml, data, extra = "") {
  sprintf("%s%s_%s_%s", structure, extra, if (reml) "reml" else "ml", sub("longitudinal_", "", data))
}

report <- function(id, ll, converged) {
  cat(sprintf("%-32s logLik = %.10f  converged = %s\n", id, ll, converged))
}

# ---- nlme::gls ------------------------------------------------------------------------------------
GLS_CTRL <- glsControl(tolerance = 1e-10, msTol = 1e-10, maxIter = 500, msMaxIter = 500)
GLS_POLISH <- glsControl(tolerance = 1e-10, msTol = 1e-14, maxIter = 500, msMaxIter = 500,
                         opt = "optim")

gls_structure <- function(structure, time) {
  tf <- if (time == "visit") ~ vnum | id else as.formula(sprintf("~ %s | id", time))
  cor <- switch(structure,
    CS = , CSH = corCompSymm(form = ~ 1 | id),
    # from rho = 0 nlme cannot leave 0 when no two visits are one step apart (the gradient
    # of rho^k, k >= 2, vanishes there), as with the integer weeks of longitudinal_times
    AR1 = , ARH1 = corAR1(0.5, form = tf),
    TOEP = , TOEPH = corARMA(p = NT - 1, form = tf),
    UN = corSymm(form = tf),
    CAR1 = corCAR1(form = tf)
  )
  w <- if (structure %in% HETERO) varIdent(form = ~ 1 | visit) else NULL
  list(cor = cor, weights = w, method = paste0(
    "nlme::gls ", class(cor)[1], if (!is.null(w)) " + varIdent(~ 1 | visit)" else ""
  ))
}

# SDs over the visit levels and the correlation matrix of a subject observed at every visit.
nlme_blocks <- function(fit, d, subj) {
  sigma <- fit$sigma
  vs <- fit$modelStruct$varStruct
  if (is.null(vs)) {
    sds <- rep(sigma, NT)
  } else {
    ratio <- coef(vs, unconstrained = FALSE, allCoef = TRUE)
    stopifnot(names(ratio)[1] == VISITS[1])
    sds <- sigma * unname(ratio[VISITS])
  }
  R <- corMatrix(fit$modelStruct$corStruct)[[subj]]
  rows <- d[d$id == subj, ]
  stopifnot(identical(as.character(rows$visit), VISITS))
  list(sds = sds, R = unname(R), tvals = rows)
}

fit_gls <- function(structure, reml, data, formula = "y ~ visit * arm", time = "visit", extra = "",
                    df = NULL) {
  d <- DATA[[data]]
  st <- gls_structure(structure, time)
  warn <- character()
  run <- function(cor, weights, control) tryCatch(withCallingHandlers(
    gls(as.formula(formula), data = d, correlation = cor, weights = weights,
        method = if (reml) "REML" else "ML", control = control),
    warning = function(w) {
      warn <<- c(warn, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  ), error = function(e) stop(structure, " ", data, ": ", conditionMessage(e)))
  first <- run(st$cor, st$weights, GLS_CTRL)
  # nlminb stops up to ~1e-5 (relative, in the parameters) short of the optimum; a second run of
  # optim's BFGS from that point reaches it (checked against the generic likelihood below)
  fit <- run(first$modelStruct$corStruct, first$modelStruct$varStruct, GLS_POLISH)
  gain <- as.numeric(logLik(fit) - logLik(first))
  converged <- length(warn) == 0 && is.matrix(fit$apVar) && gain > -1e-9 && gain < 1e-6
  subj <- full_subject(d)
  bl <- nlme_blocks(fit, d, subj)
  cov <- outer(bl$sds, bl$sds) * bl$R
  stopifnot(max(abs(cov - unname(as.matrix(getVarCov(fit, individual = subj))))) < 1e-10)
  rho <- if (structure %in% c("AR1", "ARH1", "CAR1")) {
    unname(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
  }
  ll <- as.numeric(logLik(fit))
  id <- case_id(structure, reml, data, extra)
  report(id, ll, converged)
  times_out <- if (time == "visit") VISITS else bl$tvals[[time]]
  out <- new_case(
    id, data, formula, structure, reml, st$method, ll, attr(logLik(fit), "df"),
    attr(logLik(fit), "nobs"), fit$sigma, fixef_block(coef(fit), vcov(fit)),
    residual_rows(structure, bl$sds, bl$R, rho = rho),
    c(list(times = times_out, matrix = cov), if (time != "visit") list(subject = subj)),
    time = time, df = df
  )
  stopifnot(abs(out$AIC - AIC(fit)) < 1e-8, abs(out$BIC - BIC(fit)) < 1e-8)
  out$fit <- fit
  out
}

# ---- nlme::lme: random intercept + AR1 residuals --------------------------------------------------
fit_lme_ar1 <- function(reml, data) {
  d <- DATA[[data]]
  run <- function(opt) {
    lme(y ~ visit * arm, random = ~ 1 | id, correlation = corAR1(0.5, form = ~ vnum | id), data = d,
        method = if (reml) "REML" else "ML",
        control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-14,
                             niterEM = 100, opt = opt))
  }
  # both of nlme's optimizers; they must agree
  fits <- list(run("nlminb"), run("optim"))
  lls <- vapply(fits, function(f) as.numeric(logLik(f)), 0)
  fit <- fits[[which.max(lls)]]
  subj <- full_subject(d)
  bl <- nlme_blocks(fit, d, subj)
  cov <- fit$sigma^2 * bl$R
  stopifnot(max(abs(cov - unname(as.matrix(
    getVarCov(fit, individuals = subj, type = "conditional")[[1]])))) < 1e-10)
  sd_id <- sqrt(as.numeric(getVarCov(fit)[1, 1]))  # (VarCorr() is formatted text)
  res <- residual_rows("AR1", bl$sds, bl$R,
                       rho = unname(coef(fit$modelStruct$corStruct, unconstrained = FALSE)))
  ll <- as.numeric(logLik(fit))
  id <- case_id("AR1", reml, data, "_ri")
  report(id, ll, is.matrix(fit$apVar) && diff(range(lls)) < 1e-6)
  out <- new_case(
    id, data, "y ~ visit * arm + (1 | id)", "AR1", reml,
    "nlme::lme random = ~ 1 | id, corAR1(~ vnum | id)", ll, attr(logLik(fit), "df"),
    attr(logLik(fit), "nobs"), fit$sigma, fixef_block(fixef(fit), vcov(fit)),
    list(group = c("id", res$group), term = c("sd__(Intercept)", res$term),
         estimate = c(sd_id, res$estimate)),
    list(times = VISITS, matrix = cov)
  )
  stopifnot(abs(out$AIC - AIC(fit)) < 1e-8, abs(out$BIC - BIC(fit)) < 1e-8)
  out
}

# ---- Satterthwaite and Kenward-Roger df of the equivalent random-intercept model ------------------
lmer_df <- function(data, gls_case) {
  m <- lmer(y ~ visit * arm + (1 | id), data = DATA[[data]], REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  stopifnot(abs(as.numeric(logLik(m)) - gls_case$logLik) < 1e-6)
  sa <- summary(m)$coefficients
  kr <- summary(m, ddf = "Kenward-Roger")$coefficients
  stopifnot(identical(rownames(sa), gls_case$fixef$term))
  list(satterthwaite = unname(sa[, "df"]), kenward_roger = unname(kr[, "df"]),
       std_error_kr = unname(kr[, "Std. Error"]))
}

# ---- a generic dense-Gaussian likelihood (AD and the by = "arm" cases) ----------------------------
# Per subject block Sigma(theta)[pos, pos] over the visits it has; beta by GLS; REML adds
# log|X' V^-1 X| (nlme's and lme4's convention: no log|X'X| term). All covariance parameters are
# free (sigma^2 not profiled) on an unconstrained scale, maximized by optim BFGS from several starts.
# Subjects with the same visit pattern (and by-level) share one Cholesky factor.
dense_setup <- function(d, formula, by = NULL) {
  X <- model.matrix(as.formula(formula), d)
  lev <- if (is.null(by)) rep("all", nrow(d)) else as.character(d[[by]])
  subj <- split(seq_len(nrow(d)), d$id)
  stopifnot(all(vapply(subj, function(r) length(unique(lev[r])) == 1, logical(1))))
  key <- vapply(subj, function(r) paste(lev[r[1]], paste(d$vnum[r], collapse = ",")), "")
  blocks <- lapply(split(subj, key), function(ss) {
    idx <- do.call(cbind, ss)
    m <- nrow(idx)
    list(level = lev[ss[[1]][1]], pos = d$vnum[ss[[1]]], Y = matrix(d$y[idx], m),
         X = matrix(X[as.vector(idx), ], m))
  })
  list(blocks = blocks, N = nrow(X), p = ncol(X), terms = colnames(X), levels = sort(unique(lev)),
       X = X, d = d, lev = lev)
}

# Unconstrained parameterizations of one T x T block: cov(theta) and theta from a PD matrix S.
corr_of <- function(S) cov2cor(S)
PARAM <- list(
  AD = list(
    n = 2 * NT - 1,
    cov = function(th) {
      s <- exp(th[1:NT])
      rho <- tanh(th[NT + 1:(NT - 1)])
      R <- diag(NT)
      for (i in 1:(NT - 1)) for (j in (i + 1):NT) R[i, j] <- R[j, i] <- prod(rho[i:(j - 1)])
      R * outer(s, s)
    },
    theta = function(S) c(log(sqrt(diag(S))), atanh(corr_of(S)[cbind(1:(NT - 1), 2:NT)]))
  ),
  UN = list(
    n = NT * (NT + 1) / 2,
    cov = function(th) {
      L <- diag(exp(th[1:NT]))
      L[lower.tri(L)] <- th[-(1:NT)]
      L %*% t(L)
    },
    theta = function(S) {
      L <- t(chol(S))
      c(log(diag(L)), L[lower.tri(L)])
    }
  ),
  # Lag correlations tanh(theta) directly: not positive definite everywhere (such steps are
  # rejected), only used to check nlme's corARMA(p = T - 1) fits.
  TOEP = list(
    n = NT,
    cov = function(th) exp(2 * th[1]) * toeplitz(c(1, tanh(th[-1]))),
    theta = function(S) {
      R <- corr_of(S)
      c(log(sqrt(mean(diag(S)))), atanh(vapply(1:(NT - 1), function(k) {
        mean(R[cbind(1:(NT - k), (k + 1):NT)])
      }, 0)))
    }
  ),
  CS = list(
    n = 2,
    cov = function(th) {
      lo <- -1 / (NT - 1)
      rho <- lo + (1 - lo) * plogis(th[2])
      exp(2 * th[1]) * ((1 - rho) * diag(NT) + rho)
    },
    theta = function(S) {
      lo <- -1 / (NT - 1)
      r <- mean(corr_of(S)[upper.tri(S)])
      c(log(sqrt(mean(diag(S)))), qlogis((r - lo) / (1 - lo)))
    }
  )
)

dense_sigmas <- function(theta, setup, par) {
  k <- par$n
  setNames(lapply(seq_along(setup$levels), function(l) par$cov(theta[(l - 1) * k + 1:k])),
           setup$levels)
}

dense_loglik <- function(theta, setup, par, reml) {
  Sig <- dense_sigmas(theta, setup, par)
  p <- setup$p
  XtVX <- matrix(0, p, p)
  XtVy <- numeric(p)
  yVy <- 0
  logdet <- 0
  for (b in setup$blocks) {
    U <- chol(Sig[[b$level]][b$pos, b$pos, drop = FALSE])
    m <- nrow(b$Y)
    k <- ncol(b$Y)
    Wy <- backsolve(U, b$Y, transpose = TRUE)
    WX <- matrix(backsolve(U, b$X, transpose = TRUE), m * k, p)
    XtVX <- XtVX + crossprod(WX)
    XtVy <- XtVy + drop(crossprod(WX, as.vector(Wy)))
    yVy <- yVy + sum(Wy^2)
    logdet <- logdet + 2 * k * sum(log(diag(U)))
  }
  L <- chol(XtVX)
  beta <- backsolve(L, backsolve(L, XtVy, transpose = TRUE))
  rss <- yVy - sum(XtVy * beta)
  n_eff <- setup$N - reml * p
  m2ll <- n_eff * log(2 * pi) + logdet + rss + reml * 2 * sum(log(diag(L)))
  names(beta) <- setup$terms
  list(ll = -m2ll / 2, beta = beta, vcov = chol2inv(L))
}

# BFGS stops ~1e-5 (relative) short in the parameters; Newton steps with one Hessian and
# five-point gradients (h = 1e-3: truncation ~1e-13, rounding of the ~1e-11 noise of the
# criterion ~1e-7) take the gradient from ~1e-4 to ~1e-7.
num_grad <- function(fn, th, h = 1e-3) {
  vapply(seq_along(th), function(i) {
    e <- replace(0 * th, i, h)
    (8 * (fn(th + e) - fn(th - e)) - (fn(th + 2 * e) - fn(th - 2 * e))) / (12 * h)
  }, 0)
}
newton_polish <- function(fn, th) {
  H <- optimHess(th, fn, function(x) num_grad(fn, x), control = list(ndeps = rep(1e-4, length(th))))
  for (it in 1:20) {
    step <- solve(H, num_grad(fn, th))
    if (!is.finite(fn(th - step)) || fn(th - step) > fn(th) + 1e-10) break
    th <- th - step
    if (max(abs(step)) < 1e-10) break
  }
  th
}

dense_fit <- function(setup, par, reml) {
  # starts: per-level OLS residual SDs with independence, with correlation 0.5, and a perturbation
  r <- resid(lm.fit(setup$X, setup$d$y))
  S0 <- lapply(setup$levels, function(l) {
    s <- vapply(1:NT, function(t) sqrt(mean(r[setup$lev == l & setup$d$vnum == t]^2)), 0)
    list(diag(s^2), outer(s, s) * (0.5 + 0.5 * diag(NT)))
  })
  starts <- list(
    unlist(lapply(S0, function(S) par$theta(S[[1]]))),
    unlist(lapply(S0, function(S) par$theta(S[[2]])))
  )
  set.seed(1)
  starts[[3]] <- starts[[2]] + rnorm(length(starts[[2]]), sd = 0.3)
  # a line search can step to where a block is numerically singular: reject such steps
  fn <- function(th) tryCatch(-dense_loglik(th, setup, par, reml)$ll, error = function(e) Inf)
  ctrl <- list(reltol = 1e-14, maxit = 5000, ndeps = rep(1e-5, length(starts[[1]])))
  runs <- lapply(starts, function(s) optim(s, fn, method = "BFGS", control = ctrl))
  vals <- vapply(runs, function(o) -o$value, 0)
  best <- runs[[which.max(vals)]]
  theta <- newton_polish(fn, best$par)
  ok <- all(vapply(runs, `[[`, 0, "convergence") == 0)
  list(theta = theta, fit = dense_loglik(theta, setup, par, reml),
       converged = ok && max(vals) - min(vals) < 1e-6 && best$value - fn(theta) < 1e-6,
       start_spread = max(vals) - min(vals))
}

fit_dense <- function(structure, reml, data, by = NULL, extra = "") {
  formula <- "y ~ visit * arm"
  setup <- dense_setup(DATA[[data]], formula, by)
  par <- PARAM[[structure]]
  res <- dense_fit(setup, par, reml)
  Sig <- dense_sigmas(res$theta, setup, par)
  rows <- list(group = character(), term = character(), estimate = numeric())
  for (l in setup$levels) {
    S <- Sig[[l]]
    g <- if (is.null(by)) "Residual" else sprintf("Residual:%s=%s", by, l)
    rr <- residual_rows(structure, sqrt(diag(S)), cov2cor(S), group = g)
    for (nm in names(rows)) rows[[nm]] <- c(rows[[nm]], rr[[nm]])
  }
  cov <- list(times = VISITS, matrix = unname(Sig[[1]]))
  if (!is.null(by)) cov$by <- list(level = setup$levels, matrix = unname(lapply(Sig, unname)))
  ll <- res$fit$ll
  id <- case_id(structure, reml, data, extra)
  report(id, ll, res$converged)
  out <- new_case(
    id, data, formula, structure, reml,
    "generic dense-Gaussian likelihood (make_residual.R: optim BFGS, 3 starts, reltol 1e-14)",
    ll, length(res$theta) + setup$p, setup$N - reml * setup$p, sqrt(Sig[[1]][1, 1]),
    # nlme::gls scales its ML vcov by N / (N - p); the generic ML cases follow gls
    fixef_block(res$fit$beta, res$fit$vcov * (setup$N - reml * setup$p) / (setup$N - setup$p)),
    rows, cov, by = by
  )
  out$start_spread <- res$start_spread
  out
}

# ---- cases ----------------------------------------------------------------------------------------
t0 <- Sys.time()
cases <- list()
add <- function(cs) cases[[cs$id]] <<- cs
for (structure in c("CS", "CSH", "AR1", "ARH1", "TOEP", "TOEPH", "UN", "AD")) {
  for (data in c("longitudinal_balanced", "longitudinal_unbalanced")) {
    for (reml in c(TRUE, FALSE)) {
      if (structure == "AD") {
        add(fit_dense("AD", reml, data))
      } else {
        cs <- fit_gls(structure, reml, data)
        if (structure == "CS") {
          rho <- cs$ran_pars$estimate[cs$ran_pars$term == "rho"]
          stopifnot(rho > 0)
          if (reml) cs$df <- lmer_df(data, cs)
        }
        add(cs)
      }
    }
  }
}
for (reml in c(TRUE, FALSE)) add(fit_gls("CAR1", reml, "longitudinal_times", time = "t"))
for (reml in c(TRUE, FALSE)) {
  add(fit_gls("AR1", reml, "longitudinal_times", time = "week", extra = "_week"))
}
for (data in c("longitudinal_balanced", "longitudinal_unbalanced")) {
  for (reml in c(TRUE, FALSE)) add(fit_lme_ar1(reml, data))
}
add(fit_gls("UN", TRUE, "longitudinal_balanced", formula = "y ~ x + visit * arm", extra = "_x"))
add(fit_gls("CS", FALSE, "longitudinal_unbalanced", formula = "y ~ x + visit * arm", extra = "_x"))
add(fit_dense("UN", TRUE, "longitudinal_balanced", by = "arm", extra = "_byarm"))
add(fit_dense("CS", TRUE, "longitudinal_balanced", by = "arm", extra = "_byarm"))
add(fit_dense("UN", TRUE, "longitudinal_unbalanced", by = "arm", extra = "_byarm"))

# ---- validation of the generic likelihood against nlme (same code as the AD and by cases) ---------
cat("\nGeneric dense likelihood vs nlme::gls:\n")
rel <- function(a, b) max(abs(a - b) / pmax(abs(b), 1e-8))

for (ref in c("UN_reml_balanced", "UN_ml_unbalanced", "UN_reml_unbalanced", "CS_reml_unbalanced",
              "CS_ml_balanced", "TOEP_reml_balanced", "TOEP_ml_unbalanced")) {
  g <- cases[[ref]]
  dn <- fit_dense(g$structure, g$reml, g$data, extra = "_check")
  cat(sprintf(
    "  %-20s |dlogLik| = %.2e  rel(ran_pars) = %.1e  rel(fixef) = %.1e  rel(se) = %.1e  npar %d/%d\n",
    ref, abs(dn$logLik - g$logLik), rel(dn$ran_pars$estimate, g$ran_pars$estimate),
    rel(dn$fixef$estimate, g$fixef$estimate), rel(dn$fixef$std_error, g$fixef$std_error),
    dn$npar, g$npar
  ))
  stopifnot(abs(dn$logLik - g$logLik) < 1e-6, dn$npar == g$npar, abs(dn$BIC - g$BIC) < 1e-5)
}

for (nm in names(cases)) cases[[nm]]$fit <- cases[[nm]]$start_spread <- NULL
meta <- list(
  kind = "residual", R = R.version.string, nlme = as.character(packageVersion("nlme")),
  lme4 = as.character(packageVersion("lme4")), lmerTest = as.character(packageVersion("lmerTest")),
  pbkrtest = as.character(packageVersion("pbkrtest")), cases = unname(cases)
)
writeLines(toJSON(meta, digits = NA, auto_unbox = TRUE, pretty = TRUE, null = "null"),
           "tests/reference/fixtures/residual.json")
cat(sprintf("\n%d cases, %.1f s\n", length(cases), as.numeric(Sys.time() - t0, units = "secs")))
