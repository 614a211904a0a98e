; Towers of Hanoi for a robot arm: disks are picked up and put down one at a time, on a
; marked place of the table or on a larger disk. (smaller ?x ?d): disk ?d may rest on ?x;
; static, listed for every place and every larger disk. A disk that ended up elsewhere
; on the table (it slid off its place) is (on ?d table): it can be picked up from there,
; but nothing is ever put on the table, as no (smaller table ?d) holds.
(define (domain hanoi-tabletop)
  (:requirements :strips :typing)
  (:types disk peg - place)
  (:constants table - place)
  (:predicates
    (on ?d - disk ?x - place)
    (clear ?x - place)
    (smaller ?x - place ?d - disk)
    (holding ?d - disk)
    (handempty))

  (:action pick
    :parameters (?d - disk ?from - place)
    :precondition (and (on ?d ?from) (clear ?d) (handempty))
    :effect (and (holding ?d) (clear ?from)
                 (not (on ?d ?from)) (not (clear ?d)) (not (handempty))))

  (:action put
    :parameters (?d - disk ?to - place)
    :precondition (and (holding ?d) (clear ?to) (smaller ?to ?d))
    :effect (and (on ?d ?to) (clear ?d) (handempty)
                 (not (holding ?d)) (not (clear ?to)))))
